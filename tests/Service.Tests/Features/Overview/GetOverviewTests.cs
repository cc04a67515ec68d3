using Service.Tests.Fixtures;

namespace Service.Tests.Features.Overview;

/// <summary>The overview adds the detector's rollups and the events received since, and counts patterns, suggestions and runs.</summary>
public sealed class GetOverviewTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static object Event(string type, string path, DateTimeOffset at) =>
        new { type, occurredAt = at.ToString("O"), path, clientEventId = Guid.NewGuid().ToString() };

    [Fact]
    public async Task Counts_match_the_events_whether_rolled_up_or_just_received()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        var agent = factory.ClientWithApiKey(key);
        var today = DateTimeOffset.UtcNow;
        var yesterday = today.AddDays(-1);
        await Identity.EnsureAsync(await agent.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new
        {
            events = new[]
            {
                Event("file_modified", "/proj/src/a.py", yesterday), Event("file_modified", "/proj/src/b.py", yesterday),
                Event("file_modified", "/proj/src/c.py", today), Event("file_opened", "/docs/x.md", today),
            },
        }), HttpStatusCode.Created);
        await factory.DetectAsync(orgId);
        // Received after the detector's run: counted from the events table.
        await Identity.EnsureAsync(await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new
        {
            events = new[] { Event("script_run", "/proj/build.sh", today), Event("file_modified", "/proj/src/d.py", today) },
        }), HttpStatusCode.Created);
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "tell", type = "notify", input = new { toRole = "owner", title = "hi" } }));
        await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        var from = DateOnly.FromDateTime(today.UtcDateTime).AddDays(-6);
        var overview = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/overview?from={from:yyyy-MM-dd}");
        Assert.Equal(6, overview.GetProperty("totalEvents").GetInt64());
        var days = overview.GetProperty("eventsPerDay").EnumerateArray().ToList();
        Assert.Equal(7, days.Count);
        Assert.Equal(2, days[^2].GetProperty("total").GetInt64());
        Assert.Equal(4, days[^1].GetProperty("total").GetInt64());
        Assert.Equal(4, overview.GetProperty("eventsByType").GetProperty("file_modified").GetInt64());
        Assert.Equal(1, overview.GetProperty("eventsByType").GetProperty("script_run").GetInt64());
        Assert.Equal(2, overview.GetProperty("activeSources").GetInt32());
        var busiest = overview.GetProperty("busiestPaths")[0];
        Assert.Equal("/proj/src/**/*.py", busiest.GetProperty("template").GetString());
        Assert.Equal(4, busiest.GetProperty("events").GetInt64());
        Assert.Equal(1, overview.GetProperty("runsByStatus").GetProperty("succeeded").GetInt32());
        Assert.Equal(1.0, overview.GetProperty("runSuccessRate").GetDouble());
        Assert.Equal(JsonValueKind.Null, overview.GetProperty("acceptanceRate").ValueKind);
        Assert.Equal(0, overview.GetProperty("suggestionsByStatus").GetProperty("new").GetInt32());
    }

    [Fact]
    public async Task Suggestion_counts_and_the_acceptance_rate_follow_decisions()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var suggestions = await owner.SuggestionsAsync(orgId);
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{suggestions[0].GetProperty("id")}/accept", null), HttpStatusCode.Created);
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{suggestions[1].GetProperty("id")}/dismiss", null), HttpStatusCode.OK);
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{suggestions[2].GetProperty("id")}/dismiss", null), HttpStatusCode.OK);

        var overview = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/overview");
        var byStatus = overview.GetProperty("suggestionsByStatus");
        Assert.Equal(suggestions.Count - 3, byStatus.GetProperty("new").GetInt32());
        Assert.Equal(1, byStatus.GetProperty("accepted").GetInt32());
        Assert.Equal(2, byStatus.GetProperty("dismissed").GetInt32());
        Assert.Equal(0.3333, overview.GetProperty("acceptanceRate").GetDouble());
        var patterns = overview.GetProperty("patternsByKind");
        Assert.Equal((await owner.AllPatternsAsync(orgId)).Count, patterns.GetProperty("sequence").GetInt32() + patterns.GetProperty("schedule").GetInt32() + patterns.GetProperty("co_occurrence").GetInt32());
        Assert.Equal(30, overview.GetProperty("eventsPerDay").GetArrayLength());
    }

    [Theory]
    [InlineData("from=2026-13-01", "from")]
    [InlineData("to=yesterday", "to")]
    [InlineData("from=2026-05-02&to=2026-05-01", "from")]
    [InlineData("from=2024-01-01&to=2026-01-01", "from")]
    public async Task Bad_ranges_are_400_naming_the_field(string query, string field)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var problem = await (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/overview?{query}")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }
}
