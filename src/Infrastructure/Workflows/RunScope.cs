using System.Text.Json.Nodes;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// The variables conditions and templates read: <c>event</c> (the first event of the run), <c>events</c> (the
/// debounced batch), <c>trigger</c>, <c>run</c>, <c>input</c> (a manual run's JSON) and <c>steps</c> (each finished
/// step's status, output and error, by name).
/// </summary>
public static class RunScope
{
    public static JsonObject Create(JsonObject triggerData, JsonNode? input, JsonObject run)
    {
        var events = triggerData["events"] as JsonArray;
        var trigger = new JsonObject();
        foreach (var (key, value) in triggerData)
        {
            if (key != "events") trigger[key] = value?.DeepClone();
        }
        return new JsonObject
        {
            ["event"] = events is { Count: > 0 } ? events[0]!.DeepClone() : null,
            ["events"] = events?.DeepClone(),
            ["trigger"] = trigger,
            ["run"] = run,
            ["input"] = input?.DeepClone(),
            ["steps"] = new JsonObject(),
        };
    }

    public static void AddStep(JsonObject scope, string name, string status, JsonNode? output, string? error)
    {
        var steps = (JsonObject)scope["steps"]!;
        steps[name] = new JsonObject { ["status"] = status, ["output"] = output?.DeepClone(), ["error"] = error };
    }
}
