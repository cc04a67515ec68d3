using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Retention deletes finished runs by age and beyond the count kept per workflow, and never an unfinished one.</summary>
public sealed class PruneRunsTests(PruneRunsTests.Factory factory) : IClassFixture<PruneRunsTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Workflows:RetentionIntervalSeconds"] = "1";
            Settings["Workflows:KeepRunsPerWorkflow"] = "3";
            Settings["Workflows:RunRetentionDays"] = "7";
        }
    }

    [Fact]
    public async Task Old_runs_and_runs_beyond_the_kept_count_are_deleted_with_their_steps()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 0 } }));
        var waiting = await owner.CreateWorkflowAsync(orgId, WorkflowSetup.Manual(new { name = "wait", type = "delay", input = new { seconds = 3600 } }));
        var runs = new List<Guid>();
        for (var i = 0; i < 5; i++) runs.Add(await owner.StartRunAsync(orgId, workflowId));
        foreach (var run in runs) await owner.WaitForRunAsync(orgId, run);
        var unfinished = await owner.StartRunAsync(orgId, waiting);
        await owner.WaitForRunAsync(orgId, unfinished, status: "running");
        // The newest finished run is made old: age removes it whatever the count.
        await factory.ScalarAsync<int>("WITH u AS (UPDATE workflow_runs SET finished_at = now() - interval '8 days' WHERE id = $1 RETURNING 1) SELECT count(*)::int FROM u", runs[^1]);
        await factory.ScalarAsync<int>("WITH u AS (UPDATE workflow_runs SET created_at = now() - interval '30 days' WHERE id = $1 RETURNING 1) SELECT count(*)::int FROM u", unfinished);

        // The job runs every second, so it may prune by count before the age change (then runs[1] goes too) or after.
        await WebhookReceiver.WaitUntilAsync(() => factory.ScalarAsync<long>("SELECT count(*) FROM workflow_runs WHERE id = ANY($1)", new[] { runs[0], runs[^1] }).Result == 0,
            TimeSpan.FromSeconds(10));

        var kept = (await owner.RunsAsync(orgId, workflowId)).Select(r => r.GetProperty("id").GetGuid()).ToHashSet();
        Assert.Subset(runs.Skip(1).Take(3).ToHashSet(), kept); // the oldest by count, the newest by age
        Assert.Superset(runs.Skip(2).Take(2).ToHashSet(), kept);
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM workflow_run_steps WHERE run_id = ANY($1)", new[] { runs[0], runs[^1] }));
        Assert.Equal("running", (await owner.RunAsync(orgId, unfinished)).GetProperty("status").GetString());
    }
}
