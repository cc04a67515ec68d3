using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Deleting a workflow stops it: it is gone from the API, its queued runs are cancelled, its runs stay readable.</summary>
public sealed class DeleteWorkflowTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_deleted_workflow_is_gone_and_its_waiting_run_is_stopped()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 3600 } }));
        var runId = await owner.StartRunAsync(orgId, workflowId);
        await owner.WaitForRunAsync(orgId, runId, status: "running");
        await Task.Delay(300);

        await Identity.EnsureAsync(await owner.Client.DeleteAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}"), HttpStatusCode.NoContent);

        await (await owner.Client.GetAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}")).ProblemAsync(HttpStatusCode.NotFound);
        await (await owner.Client.PostAsJsonAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}/runs", new { })).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(1, await factory.CountAuditAsync("workflow.deleted", workflowId.ToString()));
        // The delay released its worker, so nothing holds the run: it is cancelled at once.
        var run = await owner.RunAsync(orgId, runId);
        Assert.Equal("cancelled", run.GetProperty("status").GetString());
        Assert.Equal("cancelled", run.Step("wait").GetProperty("status").GetString());
        // Members' streams hear of it, as of any other run change.
        await WebhookReceiver.WaitUntilAsync(() => factory.ScalarAsync<long>(
            "SELECT count(*) FROM stream_events WHERE type = 'run.updated' AND data ->> 'runId' = $1 AND data ->> 'status' = 'cancelled'", runId.ToString()).Result == 1,
            TimeSpan.FromSeconds(5));
    }
}
