using System.Text.Json.Serialization;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// One event of a user's stream: <see cref="Seq"/> is its SSE id (1, 2, 3... per user, in commit order),
/// <see cref="Type"/> its SSE event name, <see cref="Data"/> its JSON. <see cref="OrgId"/> is set for an
/// organization's events, which reach only its current members.
/// </summary>
public sealed record StreamEvent(
    [property: JsonPropertyName("u")] Guid UserId,
    [property: JsonPropertyName("s")] long Seq,
    [property: JsonPropertyName("t")] string Type,
    [property: JsonPropertyName("o")] Guid? OrgId,
    [property: JsonPropertyName("d")] string Data,
    [property: JsonPropertyName("c")] DateTime CreatedAt);

/// <summary>The event types a stream carries.</summary>
public static class StreamEventTypes
{
    public const string NotificationCreated = "notification.created";
    public const string RunUpdated = "run.updated";
    public const string SuggestionCreated = "suggestion.created";
    public const string DeliveryFailed = "delivery.failed";

    /// <summary>The stream starts; its id is the position it starts from, so a reconnect resumes there.</summary>
    public const string Open = "stream.open";

    /// <summary>More was missed than is replayed: reload state over the API. Its id is the position streaming goes on from.</summary>
    public const string Reset = "stream.reset";

    /// <summary>The server ends the stream (no id); data.reason says why and whether to reconnect.</summary>
    public const string Closed = "stream.closed";
}
