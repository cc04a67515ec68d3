using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>Webhook steps retry only timeouts, 429 and 5xx, with growing jittered waits, Retry-After honoured, and one webhook-id throughout.</summary>
public sealed class StepRunnerTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private async Task<(TestUser Owner, Guid OrgId, Guid IntegrationId)> SetUpAsync(WebhookReceiver receiver)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        return (owner, orgId, integration.Id);
    }

    private static object Call(Guid integrationId, int maxAttempts, int initialDelayMilliseconds = 400, int maxDelaySeconds = 10, bool continueOnError = false) =>
        new { name = "post", type = "webhook", integrationId, input = new { body = new { n = 1 } }, retry = new { maxAttempts, initialDelayMilliseconds, maxDelaySeconds }, continueOnError };

    [Fact]
    public async Task Server_errors_are_retried_with_exponential_jittered_waits_and_the_same_webhook_id()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var (owner, orgId, integrationId) = await SetUpAsync(receiver);
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(Call(integrationId, maxAttempts: 5)));
        var arrivals = new List<DateTime>();
        receiver.Answer = hit =>
        {
            lock (arrivals) arrivals.Add(DateTime.UtcNow);
            return hit.Arrival < 3 ? new WebhookReceiver.Reply(503) : new WebhookReceiver.Reply(200);
        };

        var run = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.Equal(3, run.Step("post").GetProperty("attempts").GetInt32());
        Assert.Single(receiver.Hits.Select(h => h.WebhookId).Distinct());
        // Waits: between half and all of 400 ms, then of 800 ms, plus the time to pick the run up again (generous: the
        // machine is shared with other tests; the lower bounds are what the policy guarantees).
        var first = (arrivals[1] - arrivals[0]).TotalMilliseconds;
        var second = (arrivals[2] - arrivals[1]).TotalMilliseconds;
        Assert.InRange(first, 200, 400 + 1500);
        Assert.InRange(second, 400, 800 + 1500);
    }

    [Fact]
    public async Task Retry_After_on_429_is_honoured()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var arrivals = new List<DateTime>();
        receiver.Answer = hit =>
        {
            lock (arrivals) arrivals.Add(DateTime.UtcNow);
            return hit.Arrival == 1 ? new WebhookReceiver.Reply(429, Headers: new Dictionary<string, string> { ["Retry-After"] = "2" }) : new WebhookReceiver.Reply(204);
        };
        var (owner, orgId, integrationId) = await SetUpAsync(receiver);
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(Call(integrationId, maxAttempts: 3, initialDelayMilliseconds: 50)));

        var run = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.InRange((arrivals[1] - arrivals[0]).TotalSeconds, 1.95, 3.0);
    }

    [Fact]
    public async Task A_client_error_is_not_retried_and_continueOnError_lets_the_run_go_on()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(400, """{"error": "bad"}""");
        var (owner, orgId, integrationId) = await SetUpAsync(receiver);
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(
            Call(integrationId, maxAttempts: 5, continueOnError: true),
            new { name = "tell", type = "notify", when = "steps.post.status == 'failed' and steps.post.output.status == 400", input = new { toRole = "owner", title = "Receiver refused" } }));

        var run = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        var post = run.Step("post");
        Assert.Equal("failed", post.GetProperty("status").GetString());
        Assert.Equal(1, post.GetProperty("attempts").GetInt32());
        Assert.Equal("http_status", post.GetProperty("errorClass").GetString());
        Assert.Single(receiver.Hits);
        Assert.Equal("succeeded", run.Step("tell").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Attempts_run_out_and_the_run_fails_naming_the_step()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(500);
        var (owner, orgId, integrationId) = await SetUpAsync(receiver);
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(Call(integrationId, maxAttempts: 3, initialDelayMilliseconds: 20)));

        var run = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Equal(3, receiver.Hits.Count);
        Assert.Equal(3, run.Step("post").GetProperty("attempts").GetInt32());
        Assert.StartsWith("Step post failed", run.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Secrets_in_recorded_inputs_and_outputs_are_redacted()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(200, """{"access_token": "tok-123", "id": 7}""");
        var (owner, orgId, integrationId) = await SetUpAsync(receiver);
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(
            new { name = "post", type = "webhook", integrationId, input = new { body = new { password = "{{input.password}}", user = "ana" } } }));

        var run = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId, new { password = "hunter2" }));

        Assert.Contains("hunter2", Assert.Single(receiver.Hits).Body); // sent as rendered
        var post = run.Step("post").ToString();
        Assert.DoesNotContain("hunter2", post);
        Assert.DoesNotContain("tok-123", post);
        Assert.Contains("[redacted]", post);
    }
}
