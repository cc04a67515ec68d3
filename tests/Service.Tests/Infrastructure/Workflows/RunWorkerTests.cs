using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>Runs survive the instance that ran them, and one tenant's backlog does not take every worker.</summary>
public sealed class RunWorkerTests(RunWorkerTests.Factory factory) : IClassFixture<RunWorkerTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Workflows:LeaseSeconds"] = "3";
            Settings["Workflows:MaxRunningPerOrg"] = "2";
        }
    }

    /// <summary>A user of a service that runs as its own process, signed up through its HTTP API.</summary>
    private static async Task<TestUser> SignUpAsync(string baseUrl)
    {
        var anonymous = new HttpClient { BaseAddress = new Uri(baseUrl) };
        var email = Identity.NewEmail();
        await Identity.EnsureAsync(await anonymous.PostAsJsonAsync("/api/v1/auth/register", new { email, password = Identity.Password, displayName = "Ana" }), HttpStatusCode.Created);
        var login = await anonymous.PostAsJsonAsync("/api/v1/auth/login", new { email, password = Identity.Password });
        var token = (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
        var client = new HttpClient { BaseAddress = new Uri(baseUrl) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return new TestUser(Guid.Empty, email, Identity.Password, token, "", client);
    }

    [Fact]
    public async Task A_run_whose_instance_is_killed_mid_step_continues_elsewhere_from_that_step_and_nothing_runs_twice()
    {
        // A deployment of its own: the class's shared instance may already be running, and would compete for the run.
        var deployment = new Factory();
        await deployment.InitializeAsync();
        try
        {
            await KilledMidStepAsync(deployment);
        }
        finally
        {
            await ((IAsyncLifetime)deployment).DisposeAsync();
        }
    }

    private static async Task KilledMidStepAsync(Factory factory)
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // The second step's first call hangs past the kill; its retry on the surviving instance is answered.
        receiver.Answer = hit => hit.Path == "/two" && hit.Arrival == 1 ? new WebhookReceiver.Reply(200, Delay: TimeSpan.FromSeconds(60)) : new WebhookReceiver.Reply(200);
        var environment = factory.BaseSettings().Concat(factory.Settings).ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value ?? "");
        environment["ENVIRONMENT"] = "development";
        var (doomed, url) = await ServiceProcess.StartListeningAsync(environment, TimeSpan.FromSeconds(60));
        await using var stopped = doomed;

        // Everything goes through the doomed process: the in-process instance is not started yet, so it cannot take the run first.
        var owner = await SignUpAsync(url);
        var orgId = await owner.CreateOrgAsync();
        var one = await owner.CreateWebhookAsync(orgId, receiver.Url("/one"), name: "one");
        var two = await owner.CreateWebhookAsync(orgId, receiver.Url("/two"), name: "two");
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(
            new { name = "one", type = "webhook", integrationId = one.Id, input = new { body = new { step = 1 } } },
            new { name = "two", type = "webhook", integrationId = two.Id, input = new { body = new { step = 2 } }, timeoutSeconds = 120 },
            new { name = "tell", type = "notify", input = new { toRole = "owner", title = "done" } }));
        var runId = await owner.StartRunAsync(orgId, workflowId);
        await WebhookReceiver.WaitUntilAsync(() => receiver.Hits.Any(h => h.Path == "/two"), TimeSpan.FromSeconds(20));
        doomed.Kill();

        var survivor = owner with { Client = factory.ClientWithToken(owner.AccessToken) }; // starts the in-process instance
        var run = await survivor.WaitForRunAsync(orgId, runId, seconds: 30);

        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.Single(receiver.Hits, h => h.Path == "/one");
        var calls = receiver.Hits.Where(h => h.Path == "/two").ToList();
        Assert.Equal(2, calls.Count);
        Assert.Single(calls.Select(c => c.WebhookId).Distinct()); // the receiver can tell it is the same call
        Assert.Single(await survivor.RunsAsync(orgId, workflowId));
        await Task.Delay(500);
        Assert.Single(await survivor.WaitForNotificationAsync(n => n.GetProperty("title").GetString() == "done"), n => n.GetProperty("title").GetString() == "done");
    }

    [Fact]
    public async Task One_organization_runs_at_most_its_limit_at_once_while_another_still_gets_workers()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = hit => hit.Path == "/slow" ? new WebhookReceiver.Reply(200, Delay: TimeSpan.FromSeconds(2)) : new WebhookReceiver.Reply(200);
        var busy = await factory.SignUpAsync();
        var busyOrg = await busy.CreateOrgAsync();
        var slow = await busy.CreateWebhookAsync(busyOrg, receiver.Url("/slow"));
        var busyWorkflow = await busy.CreateWorkflowAsync(busyOrg, WorkflowSetup.Manual(new { name = "post", type = "webhook", integrationId = slow.Id }));
        var quiet = await factory.SignUpAsync();
        var quietOrg = await quiet.CreateOrgAsync();
        var quietWorkflow = await quiet.CreateWorkflowAsync(quietOrg, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 0 } }));

        for (var i = 0; i < 6; i++) await busy.StartRunAsync(busyOrg, busyWorkflow);
        await WebhookReceiver.WaitUntilAsync(() => receiver.Hits.Count >= 2, TimeSpan.FromSeconds(10));
        var quietRun = await quiet.WaitForRunAsync(quietOrg, await quiet.StartRunAsync(quietOrg, quietWorkflow), seconds: 5);

        Assert.Equal("succeeded", quietRun.GetProperty("status").GetString());
        Assert.Equal(2, receiver.Hits.Count); // the other four wait for the first two
        Assert.Equal(4L, await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_runs WHERE org_id = $1 AND status = 'queued'", busyOrg));
    }
}
