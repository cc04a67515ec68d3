namespace Service.Infrastructure.Events;

/// <summary>The kinds of file-usage event agents send (the events table checks the same list); workflow triggers name them too.</summary>
public static class EventTypes
{
    public static readonly string[] All = ["file_opened", "file_modified", "file_created", "file_deleted", "script_run", "tool_used"];
}
