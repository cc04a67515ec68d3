using System.Net.Http.Headers;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Updates need the current ETag, save a new version, and runs keep the version they were queued with.</summary>
public sealed class UpdateWorkflowTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static HttpRequestMessage Put(Guid orgId, Guid workflowId, object definition, string? etag)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"{WorkflowSetup.Workflows(orgId)}/{workflowId}") { Content = JsonContent.Create(definition) };
        if (etag is not null) request.Headers.IfMatch.Add(new EntityTagHeaderValue(etag));
        return request;
    }

    private static object Titled(string title) => WorkflowSetup.Manual(new { name = "tell", type = "notify", input = new { toRole = "owner", title } });

    [Fact]
    public async Task A_save_needs_the_current_etag_and_makes_a_new_version()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, Titled("v1"));

        await (await owner.Client.SendAsync(Put(orgId, workflowId, Titled("v2"), null))).ProblemAsync(HttpStatusCode.PreconditionRequired);
        var saved = await owner.Client.SendAsync(Put(orgId, workflowId, Titled("v2"), "\"1\""));
        await Identity.EnsureAsync(saved, HttpStatusCode.OK);
        Assert.Equal("\"2\"", saved.Headers.ETag!.Tag);
        // Someone who edited version 1 meanwhile does not overwrite version 2.
        var stale = await (await owner.Client.SendAsync(Put(orgId, workflowId, Titled("v2b"), "\"1\""))).ProblemAsync(HttpStatusCode.PreconditionFailed);
        Assert.Contains("version 2", stale.GetProperty("detail").GetString());

        var versions = await owner.Client.GetFromJsonAsync<JsonElement>($"{WorkflowSetup.Workflows(orgId)}/{workflowId}/versions");
        Assert.Equal([2, 1], versions.GetProperty("items").EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        Assert.Equal("v1", versions.GetProperty("items")[1].GetProperty("definition").GetProperty("steps")[0].GetProperty("input").GetProperty("title").GetString());
        Assert.Equal(1, await factory.CountAuditAsync("workflow.updated", workflowId.ToString()));
    }

    [Fact]
    public async Task A_run_records_and_runs_the_version_it_was_queued_with()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(
            new { name = "wait", type = "delay", input = new { seconds = 1 } },
            new { name = "tell", type = "notify", input = new { toRole = "owner", title = "from v1" } }));
        var runId = await owner.StartRunAsync(orgId, workflowId);

        await Identity.EnsureAsync(await owner.Client.SendAsync(Put(orgId, workflowId, Titled("from v2"), "\"1\"")), HttpStatusCode.OK);
        var first = await owner.WaitForRunAsync(orgId, runId);
        var second = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        Assert.Equal(1, first.GetProperty("version").GetInt32());
        Assert.Equal(2, second.GetProperty("version").GetInt32());
        var titles = (await owner.WaitForNotificationAsync(n => n.GetProperty("title").GetString() == "from v2")).Select(n => n.GetProperty("title").GetString()).ToList();
        Assert.Contains("from v1", titles);
        Assert.Contains("from v2", titles);
    }

    [Fact]
    public async Task An_invalid_update_saves_nothing()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, Titled("v1"));

        await (await owner.Client.SendAsync(Put(orgId, workflowId, WorkflowSetup.Manual(new { name = "x", type = "teleport" }), "\"1\""))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_versions WHERE workflow_id = $1", workflowId));
    }
}
