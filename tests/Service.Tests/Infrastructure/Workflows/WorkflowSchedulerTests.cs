using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>Each fire of a schedule runs exactly once across instances; missed fires run within the grace, older ones are recorded as skipped.</summary>
public sealed class WorkflowSchedulerTests(WorkflowSchedulerTests.Factory factory) : IClassFixture<WorkflowSchedulerTests.Factory>
{
    public sealed class Factory : OperatorServiceFactory
    {
        public Factory() => Settings["Workflows:MisfireGraceSeconds"] = "25";
    }

    private static Dictionary<string, object?> Schedule(string cron) => new()
    {
        ["name"] = "Every tick",
        ["trigger"] = new { type = "schedule", cron, timeZone = "Europe/Berlin" },
        ["steps"] = new object[] { new { name = "wait", type = "delay", input = new { seconds = 0 } } },
    };

    [Fact]
    public async Task With_three_instances_running_every_fire_runs_exactly_once()
    {
        await using var second = await factory.AnotherInstanceAsync();
        await using var third = await factory.AnotherInstanceAsync();
        second.CreateClient();
        third.CreateClient();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, Schedule("* * * * * *"), enable: true);

        await Task.Delay(TimeSpan.FromSeconds(4.5));
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}/disable", null), HttpStatusCode.OK);
        await Task.Delay(500);

        var fires = await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_fires WHERE workflow_id = $1 AND outcome = 'run'", workflowId);
        Assert.InRange(fires, 3, 6);
        Assert.Equal(fires, await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_runs WHERE workflow_id = $1", workflowId));
        Assert.Equal(fires, await factory.ScalarAsync<long>("SELECT count(DISTINCT scheduled_for) FROM workflow_runs WHERE workflow_id = $1", workflowId));
        // No second is missing between the first fire and the last.
        Assert.Equal(fires - 1, await factory.ScalarAsync<long>(
            "SELECT extract(epoch FROM max(scheduled_for) - min(scheduled_for))::bigint FROM workflow_runs WHERE workflow_id = $1", workflowId));
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM workflow_runs WHERE workflow_id = $1 AND started_at - scheduled_for > interval '1 second'", workflowId));
    }

    [Fact]
    public async Task Fires_missed_while_no_instance_ran_run_within_the_grace_and_are_skipped_beyond_it()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, Schedule("*/10 * * * * *"));
        // As if every instance had been down for a minute: the schedule's next fire lies 60 s back.
        await factory.ScalarAsync<int>("""
            WITH u AS (UPDATE workflows SET enabled = true,
                next_fire_at = to_timestamp(floor(extract(epoch FROM now()) / 10) * 10) - interval '60 seconds' WHERE id = $1 RETURNING 1)
            SELECT count(*)::int FROM u
            """, workflowId);

        await WebhookReceiver.WaitUntilAsync(() => factory.ScalarAsync<long>("SELECT count(*) FROM workflow_fires WHERE workflow_id = $1", workflowId).Result >= 6,
            TimeSpan.FromSeconds(10), () => string.Join("\n", factory.Logs.Lines.Where(l => l.Level >= LogLevel.Warning).Select(l => l.AllText)));

        Assert.Equal(0L, await factory.ScalarAsync<long>("""
            SELECT count(*) FROM workflow_fires WHERE workflow_id = $1
              AND outcome <> CASE WHEN recorded_at - scheduled_for > interval '25 seconds' THEN 'skipped' ELSE 'run' END
            """, workflowId));
        Assert.InRange(await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_fires WHERE workflow_id = $1 AND outcome = 'skipped' AND reason = 'misfire'", workflowId), 3, 5);
        Assert.InRange(await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_runs WHERE workflow_id = $1", workflowId), 2, 4);
    }

    [Fact]
    public async Task With_the_kill_switch_off_fires_are_recorded_as_skipped_and_queued_runs_wait()
    {
        var ops = await factory.OperatorAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var manual = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 1 } }));
        var scheduled = await owner.CreateWorkflowAsync(orgId, Schedule("* * * * * *"), enable: true);
        // A run waiting in its delay when the switch goes off: due again meanwhile, it is not claimed until the switch is back on.
        var waiting = await owner.StartRunAsync(orgId, manual);
        await owner.WaitForRunAsync(orgId, waiting, status: "running");
        await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/Workflows", new { enabled = false, reason = "runaway workflows" }), HttpStatusCode.OK);
        try
        {
            var refused = await owner.Client.GetAsync(WorkflowSetup.Workflows(orgId));
            await refused.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.NotNull(refused.Headers.RetryAfter);
            // A fire due before the switch went off may have become a run already (the schedule fires every second):
            // what counts is that none is added while the switch is off.
            await Task.Delay(500);
            var runsBefore = await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_runs WHERE workflow_id = $1", scheduled);
            await Task.Delay(2500);
            var skipped = await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_fires WHERE workflow_id = $1 AND outcome = 'skipped' AND reason = 'kill_switch'", scheduled);
            Assert.InRange(skipped, 2, 5);
            Assert.Equal(runsBefore, await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_runs WHERE workflow_id = $1", scheduled));
            Assert.Equal("running", await factory.ScalarAsync<string>("SELECT status FROM workflow_runs WHERE id = $1", waiting));
        }
        finally
        {
            await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/Workflows", new { enabled = true, reason = "fixed" }), HttpStatusCode.OK);
        }
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{WorkflowSetup.Workflows(orgId)}/{scheduled}/disable", null), HttpStatusCode.OK);
        Assert.Equal("succeeded", (await owner.WaitForRunAsync(orgId, waiting)).GetProperty("status").GetString());
    }
}
