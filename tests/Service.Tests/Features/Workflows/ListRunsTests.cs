using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Run lists filter by workflow, status and time, page with a cursor, and refuse bad filters with 400.</summary>
public sealed class ListRunsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Lists_filter_and_page()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var quick = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 0 } }));
        var broken = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "tell", type = "notify", input = new { toRole = "owner", title = "{{input.missing}}" } }));
        var runs = new List<Guid>();
        for (var i = 0; i < 3; i++) runs.Add(await owner.StartRunAsync(orgId, quick));
        var failed = await owner.StartRunAsync(orgId, broken);
        foreach (var run in runs.Append(failed)) await owner.WaitForRunAsync(orgId, run);
        var all = WorkflowSetup.Workflows(orgId) + "/runs";

        var page1 = await owner.Client.GetFromJsonAsync<JsonElement>($"{all}?limit=2");
        var page2 = await owner.Client.GetFromJsonAsync<JsonElement>($"{all}?limit=2&cursor={Uri.EscapeDataString(page1.GetProperty("nextCursor").GetString()!)}");
        var ids = page1.GetProperty("items").EnumerateArray().Concat(page2.GetProperty("items").EnumerateArray()).Select(r => r.GetProperty("id").GetGuid()).ToList();
        Assert.Equal(runs.Append(failed).Reverse(), ids);
        Assert.Equal(JsonValueKind.Null, page2.GetProperty("nextCursor").ValueKind);

        var onlyFailed = await owner.Client.GetFromJsonAsync<JsonElement>($"{all}?status=failed");
        Assert.Equal([failed], onlyFailed.GetProperty("items").EnumerateArray().Select(r => r.GetProperty("id").GetGuid()));
        var ofQuick = await owner.Client.GetFromJsonAsync<JsonElement>($"{all}?workflowId={quick}");
        Assert.Equal(3, ofQuick.GetProperty("items").GetArrayLength());
        var future = await owner.Client.GetFromJsonAsync<JsonElement>($"{all}?from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}");
        Assert.Equal(0, future.GetProperty("items").GetArrayLength());
        Assert.Equal(1, (await owner.Client.GetFromJsonAsync<JsonElement>($"{WorkflowSetup.Workflows(orgId)}/{broken}/runs")).GetProperty("items").GetArrayLength());

        await (await owner.Client.GetAsync($"{all}?status=exploded")).ProblemAsync(HttpStatusCode.BadRequest);
        await (await owner.Client.GetAsync($"{all}?cursor=garbage")).ProblemAsync(HttpStatusCode.BadRequest);
        await (await owner.Client.GetAsync($"{all}?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")).ProblemAsync(HttpStatusCode.BadRequest);
        await (await owner.Client.GetAsync($"{all}/{Guid.NewGuid()}")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Run_changes_reach_the_members_live_streams()
    {
        var owner = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, member, "viewer");
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 0 } }));
        await using var stream = await SseClient.OpenAsync(member.Client);

        var runId = await owner.StartRunAsync(orgId, workflowId);

        var updates = await stream.TakeAsync("run.updated", 3, TimeSpan.FromSeconds(10));
        Assert.Equal(["queued", "running", "succeeded"], updates.Select(u => u.Json.GetProperty("status").GetString()));
        Assert.All(updates, u => Assert.Equal(runId, u.Json.GetProperty("runId").GetGuid()));
    }
}
