namespace Service.Tests.Fixtures;

/// <summary>Workflows and runs made and followed through the public API.</summary>
public static class WorkflowSetup
{
    public static string Workflows(Guid orgId) => $"/api/v1/orgs/{orgId}/workflows";

    /// <summary>A definition with a manual trigger and the given steps (and anything else in <paramref name="extra"/>).</summary>
    public static Dictionary<string, object?> Manual(params object[] steps) => new()
    {
        ["name"] = "Ship reports",
        ["trigger"] = new { type = "manual" },
        ["steps"] = steps,
    };

    public static async Task<Guid> CreateWorkflowAsync(this TestUser member, Guid orgId, object definition, bool enable = false)
    {
        var response = await member.Client.PostAsJsonAsync(Workflows(orgId), definition);
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        if (enable) await Identity.EnsureAsync(await member.Client.PostAsync($"{Workflows(orgId)}/{id}/enable", null), HttpStatusCode.OK);
        return id;
    }

    public static async Task<Guid> StartRunAsync(this TestUser member, Guid orgId, Guid workflowId, object? input = null)
    {
        var response = await member.Client.PostAsJsonAsync($"{Workflows(orgId)}/{workflowId}/runs", new { input });
        await Identity.EnsureAsync(response, HttpStatusCode.Accepted);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    public static async Task<JsonElement> RunAsync(this TestUser member, Guid orgId, Guid runId) =>
        await member.Client.GetFromJsonAsync<JsonElement>($"{Workflows(orgId)}/runs/{runId}");

    /// <summary>Polls the run until it is in a final status (or <paramref name="status"/>); returns it then.</summary>
    public static async Task<JsonElement> WaitForRunAsync(this TestUser member, Guid orgId, Guid runId, string? status = null, int seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var run = await member.RunAsync(orgId, runId);
            var current = run.GetProperty("status").GetString();
            if (status is null ? current is "succeeded" or "failed" or "cancelled" or "timed_out" : current == status) return run;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"run {runId} not {status ?? "finished"} within {seconds} s: {run}");
            await Task.Delay(25);
        }
    }

    public static async Task<List<JsonElement>> RunsAsync(this TestUser member, Guid orgId, Guid workflowId)
    {
        var page = await member.Client.GetFromJsonAsync<JsonElement>($"{Workflows(orgId)}/{workflowId}/runs?limit=200");
        return page.GetProperty("items").EnumerateArray().ToList();
    }

    public static JsonElement Step(this JsonElement run, string name) =>
        run.GetProperty("steps").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name);
}
