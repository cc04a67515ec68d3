using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>Ingested events start matching workflows after the ingest commits: types, glob, tool and condition filter; a debounce window gathers a burst.</summary>
public sealed class EventTriggersTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static object Event(string type, string path, string? tool = null, object? metadata = null) =>
        new { type, occurredAt = DateTimeOffset.UtcNow.ToString("O"), path, tool, metadata, clientEventId = Guid.NewGuid().ToString() };

    private static async Task IngestAsync(HttpClient agent, Guid orgId, params object[] events) =>
        await Identity.EnsureAsync(await agent.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new { events }), HttpStatusCode.Created);

    private static Dictionary<string, object?> OnEvent(object trigger, string? condition = null) => new()
    {
        ["name"] = "Ship new reports",
        ["trigger"] = trigger,
        ["condition"] = condition,
        ["steps"] = new object[] { new { name = "tell", type = "notify", input = new { toRole = "owner", title = "{{event.path}} ({{trigger.eventCount}})" } } },
    };

    [Fact]
    public async Task Matching_events_start_runs_carrying_the_event_and_others_do_not()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        var agent = factory.ClientWithApiKey(key);
        var workflowId = await owner.CreateWorkflowAsync(orgId, OnEvent(new { type = "event", eventTypes = new[] { "file_created" }, pathGlob = "/reports/**/*.csv" },
            "event.tool != 'excel'"), enable: true);

        await IngestAsync(agent, orgId,
            Event("file_created", "/reports/2026/q3.csv", "python", new { note = "x" }),
            Event("file_created", "/reports/q3.txt", "python"),
            Event("file_modified", "/reports/q4.csv", "python"),
            Event("file_created", "/reports/q5.csv", "excel"),
            Event("file_created", "/reports/q6.csv"));

        await WebhookReceiver.WaitUntilAsync(() => owner.RunsAsync(orgId, workflowId).Result.Count(r => r.GetProperty("status").GetString() == "succeeded") == 2,
            TimeSpan.FromSeconds(10));
        await Task.Delay(500);
        var runs = await owner.RunsAsync(orgId, workflowId);
        Assert.Equal(2, runs.Count);
        var paths = runs.Select(r => r.GetProperty("trigger").GetProperty("events")[0].GetProperty("path").GetString()).Order().ToList();
        Assert.Equal(["/reports/2026/q3.csv", "/reports/q6.csv"], paths);
        Assert.All(runs, r => Assert.Equal("event", r.GetProperty("triggerType").GetString()));
        await owner.WaitForNotificationAsync(n => n.GetProperty("title").GetString() == "/reports/2026/q3.csv (1)");
    }

    [Fact]
    public async Task A_burst_within_the_debounce_window_starts_one_run_carrying_all_of_it()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, OnEvent(new { type = "event", eventTypes = new[] { "file_modified" }, debounceSeconds = 2 }), enable: true);

        await IngestAsync(owner.Client, orgId, Event("file_modified", "/a.py"), Event("file_modified", "/b.py"));
        await Task.Delay(500);
        await IngestAsync(owner.Client, orgId, Event("file_modified", "/c.py"));

        await WebhookReceiver.WaitUntilAsync(() => owner.RunsAsync(orgId, workflowId).Result.Any(r => r.GetProperty("status").GetString() == "succeeded"), TimeSpan.FromSeconds(10));
        await Task.Delay(2500);
        var run = Assert.Single(await owner.RunsAsync(orgId, workflowId));
        var trigger = run.GetProperty("trigger");
        Assert.Equal(3, trigger.GetProperty("eventCount").GetInt32());
        Assert.Equal(["/a.py", "/b.py", "/c.py"], trigger.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("path").GetString()).Order());
        var waited = run.GetProperty("createdAt").GetDateTimeOffset() - trigger.GetProperty("events")[0].GetProperty("occurredAt").GetDateTimeOffset();
        Assert.InRange(waited.TotalSeconds, 1.5, 4);
    }

    [Fact]
    public async Task A_disabled_workflow_ignores_events_and_ingest_hands_over_nothing()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, OnEvent(new { type = "event", eventTypes = new[] { "script_run" } }));

        await IngestAsync(owner.Client, orgId, Event("script_run", "/build.sh"));

        await Task.Delay(600);
        Assert.Empty(await owner.RunsAsync(orgId, workflowId));
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_event_batches WHERE org_id = $1", orgId));
    }
}
