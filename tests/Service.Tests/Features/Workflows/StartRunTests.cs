using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>A manual run end to end: a real receiver gets the rendered body, later steps read its answer, and every step is recorded.</summary>
public sealed class StartRunTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_manual_run_calls_the_receiver_then_notifies_and_records_every_step()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => new WebhookReceiver.Reply(200, """{"accepted": true, "ticket": 42}""", new Dictionary<string, string> { ["Content-Type"] = "application/json" });
        var owner = await factory.SignUpAsync();
        var admin = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, admin, "admin");
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(
            new
            {
                name = "post", type = "webhook", integrationId = integration.Id,
                input = new { body = new { path = "{{input.path}}", note = "{{?input.note}}", by = "{{input.by|default:agent}}", size = "{{input.size}}" } },
            },
            new { name = "tell", type = "notify", when = "steps.post.output.status == 200 and steps.post.output.body.accepted", input = new { toRole = "admin", title = "Ticket {{steps.post.output.body.ticket}} for {{input.path}}" } },
            new { name = "never", type = "notify", when = "steps.post.output.status != 200", input = new { toRole = "owner", title = "unreachable" } }));

        var response = await owner.Client.PostAsJsonAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}/runs", new { input = new { path = "/reports/\"q3\"\\x.csv", size = 12 } });

        await Identity.EnsureAsync(response, HttpStatusCode.Accepted);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var runId = accepted.GetProperty("id").GetGuid();
        Assert.Equal($"/api/v1/orgs/{orgId}/workflows/runs/{runId}", response.Headers.Location!.OriginalString);
        Assert.Equal("queued", accepted.GetProperty("status").GetString());
        var run = await owner.WaitForRunAsync(orgId, runId);
        Assert.True(run.GetProperty("status").GetString() == "succeeded", run.ToString());
        Assert.Equal(1, run.GetProperty("version").GetInt32());

        var hit = Assert.Single(receiver.Hits);
        var body = JsonDocument.Parse(hit.Body).RootElement;
        Assert.Equal("workflow.step", body.GetProperty("type").GetString());
        var data = body.GetProperty("data");
        Assert.Equal("/reports/\"q3\"\\x.csv", data.GetProperty("path").GetString()); // quotes and backslashes escaped by the JSON writer
        Assert.Equal(JsonValueKind.Null, data.GetProperty("note").ValueKind);
        Assert.Equal("agent", data.GetProperty("by").GetString());
        Assert.Equal(12, data.GetProperty("size").GetInt32()); // a lone placeholder keeps the value's JSON type

        var post = run.Step("post");
        Assert.Equal("succeeded", post.GetProperty("status").GetString());
        Assert.Equal(1, post.GetProperty("attempts").GetInt32());
        Assert.Equal(200, post.GetProperty("output").GetProperty("status").GetInt32());
        Assert.Equal(hit.WebhookId, post.GetProperty("output").GetProperty("webhookId").GetString());
        Assert.Equal("succeeded", run.Step("tell").GetProperty("status").GetString());
        Assert.Equal("skipped", run.Step("never").GetProperty("status").GetString());

        var notices = await admin.WaitForNotificationAsync(n => n.GetProperty("type").GetString() == "workflow.notify");
        var notice = Assert.Single(notices, n => n.GetProperty("type").GetString() == "workflow.notify");
        Assert.Equal("Ticket 42 for /reports/\"q3\"\\x.csv", notice.GetProperty("title").GetString());
        Assert.DoesNotContain(await owner.NotificationsAsync(), n => n.GetProperty("title").GetString() == "unreachable");
    }

    [Fact]
    public async Task A_missing_required_variable_fails_the_step_with_a_clear_error()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "tell", type = "notify", input = new { toRole = "owner", title = "For {{input.path}}" } }));

        var run = await owner.WaitForRunAsync(orgId, await owner.StartRunAsync(orgId, workflowId));

        Assert.Equal("failed", run.GetProperty("status").GetString());
        var step = run.Step("tell");
        Assert.Equal("template", step.GetProperty("errorClass").GetString());
        Assert.Contains("input.path is missing", step.GetProperty("error").GetString());
        Assert.Contains(await owner.NotificationsAsync(), n => n.GetProperty("type").GetString() == "workflow.run.failed");
    }

    [Fact]
    public async Task A_failed_run_sends_workflow_run_failed_to_the_failure_integration_unless_told_not_to_notify()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var alerts = await owner.CreateWebhookAsync(orgId, receiver.Url("/alerts"), name: "alerts");
        var definition = WorkflowSetup.Manual(new { name = "tell", type = "notify", input = new { toRole = "owner", title = "For {{input.path}}" } });
        definition["name"] = "Quiet failure";
        definition["settings"] = new { onFailure = new { notifyOwner = false, integrationId = alerts.Id } };
        var workflowId = await owner.CreateWorkflowAsync(orgId, definition);

        var runId = await owner.StartRunAsync(orgId, workflowId);

        Assert.Equal("failed", (await owner.WaitForRunAsync(orgId, runId)).GetProperty("status").GetString());
        await WebhookReceiver.WaitUntilAsync(() => receiver.Hits.Any(h => h.Path == "/alerts"), TimeSpan.FromSeconds(10));
        var message = JsonDocument.Parse(receiver.Hits.Single(h => h.Path == "/alerts").Body).RootElement;
        Assert.Equal("workflow.run.failed", message.GetProperty("type").GetString());
        Assert.Equal(runId, message.GetProperty("data").GetProperty("runId").GetGuid());
        Assert.Equal("template", message.GetProperty("data").GetProperty("errorClass").GetString());
        Assert.DoesNotContain(await owner.NotificationsAsync(), n => n.GetProperty("type").GetString() == "workflow.run.failed");
    }

    [Fact]
    public async Task Viewers_cannot_run_and_other_organizations_see_nothing()
    {
        var owner = await factory.SignUpAsync();
        var viewer = await factory.SignUpAsync();
        var stranger = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 0 } }));
        var runs = $"{WorkflowSetup.Workflows(orgId)}/{workflowId}/runs";

        await (await viewer.Client.PostAsJsonAsync(runs, new { })).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await viewer.Client.GetAsync(runs)).StatusCode);
        await (await stranger.Client.PostAsJsonAsync(runs, new { })).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.Client.GetAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}")).ProblemAsync(HttpStatusCode.NotFound);
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        await (await factory.ClientWithApiKey(key).GetAsync(runs)).ProblemAsync(HttpStatusCode.Forbidden);
    }
}
