using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Retrying a failed run starts a new run at the failed step, with the same input, and earlier steps' outputs still readable.</summary>
public sealed class RetryRunTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_retry_starts_from_the_failed_step_and_does_not_repeat_the_ones_before()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var failing = true;
        receiver.Answer = hit => hit.Path == "/two" && failing ? new WebhookReceiver.Reply(422) : new WebhookReceiver.Reply(200, """{"ticket": 7}""");
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var one = await owner.CreateWebhookAsync(orgId, receiver.Url("/one"), name: "one");
        var two = await owner.CreateWebhookAsync(orgId, receiver.Url("/two"), name: "two");
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(
            new { name = "one", type = "webhook", integrationId = one.Id, input = new { body = new { who = "{{input.who}}" } } },
            new { name = "two", type = "webhook", integrationId = two.Id, input = new { body = new { ticket = "{{steps.one.output.body.ticket}}", who = "{{input.who}}" } } }));
        var failedId = await owner.StartRunAsync(orgId, workflowId, new { who = "ana" });
        var failed = await owner.WaitForRunAsync(orgId, failedId);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        failing = false; // the receiver is fixed

        var response = await owner.Client.PostAsync($"{WorkflowSetup.Workflows(orgId)}/runs/{failedId}/retry", null);

        await Identity.EnsureAsync(response, HttpStatusCode.Accepted);
        var retried = await owner.WaitForRunAsync(orgId, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        Assert.Equal("succeeded", retried.GetProperty("status").GetString());
        Assert.Equal("retry", retried.GetProperty("triggerType").GetString());
        Assert.Equal(failedId, retried.GetProperty("retryOf").GetGuid());
        Assert.Single(receiver.Hits, h => h.Path == "/one");
        var last = receiver.Hits.Last(h => h.Path == "/two");
        Assert.Contains("\"ticket\":7", last.Body);
        Assert.Contains("\"who\":\"ana\"", last.Body);
        // Only failed, timed-out or cancelled runs can be retried.
        await (await owner.Client.PostAsync($"{WorkflowSetup.Workflows(orgId)}/runs/{retried.GetProperty("id").GetGuid()}/retry", null)).ProblemAsync(HttpStatusCode.Conflict);
    }
}
