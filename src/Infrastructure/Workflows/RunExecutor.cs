using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;

namespace Service.Infrastructure.Workflows;

/// <summary>A run a worker holds: what it needs to continue from its next unfinished step.</summary>
public sealed class ClaimedRun
{
    public Guid Id { get; init; }
    public Guid OrgId { get; init; }
    public Guid WorkflowId { get; init; }
    public int Version { get; init; }
    public string TriggerType { get; init; } = "";
    public string TriggerData { get; init; } = "{}";
    public string? Input { get; init; }
    public int NextStep { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime StartedAt { get; init; }
    public DateTime DeadlineAt { get; init; }
    public bool JustStarted { get; init; }
    public bool CancelRequested { get; init; }
    public Guid WorkflowOwner { get; init; }
    public string LeaseOwner { get; init; } = "";
}

/// <summary>How a worker stops a run it holds: a cancel request, a lost lease, or the instance shutting down.</summary>
public sealed class RunControl(Action<DateTimeOffset> wakeAt) : IDisposable
{
    public const string Cancelled = "cancelled", LeaseLost = "lease_lost", Shutdown = "shutdown";

    private readonly CancellationTokenSource _stop = new();
    private string? _reason;

    public CancellationToken Token => _stop.Token;
    public string? Reason => Volatile.Read(ref _reason);

    /// <summary>Asks the worker to look for due runs at this time (a delay or a retry's wait ends then).</summary>
    public Action<DateTimeOffset> WakeAt { get; } = wakeAt;

    public void Signal(string reason)
    {
        Interlocked.CompareExchange(ref _reason, reason, null);
        try { _stop.Cancel(); } catch (ObjectDisposedException) { }
    }

    public void Dispose() => _stop.Dispose();
}

/// <summary>
/// Runs the steps of one claimed run, from its next unfinished step. Each step's record and the run's new position
/// are written in one transaction, guarded by the lease: if another instance took the run (this one was presumed
/// dead), nothing is written. Timeouts and cancels are cancellation tokens that abort the step's HTTP call.
/// </summary>
public sealed partial class RunExecutor(
    [FromKeyedServices(DatabaseRegistration.Background)] NpgsqlDataSource dataSource,
    WorkflowVersions versions, StepRunner steps, Notifier notifier, WebhookOutbox outbox, TimeProvider time, ILogger<RunExecutor> logger)
{
    private sealed record StepRecord(int Index, string Name, string Status, int Attempts, string? Input, string? Output, string? ErrorClass, string? Error, DateTime? StartedAt);

    public async Task ExecuteAsync(ClaimedRun run, RunControl control)
    {
        try
        {
            await ExecuteStepsAsync(run, control);
        }
        catch (OperationCanceledException) when (control.Reason is RunControl.Shutdown)
        {
            await ReleaseAsync(run);
        }
        catch (OperationCanceledException) when (control.Reason is RunControl.LeaseLost)
        {
        }
        catch (NpgsqlException e)
        {
            // The lease runs out and the run continues from its last recorded step, here or elsewhere.
            LogDatabaseUnavailable(logger, run.Id, e.GetType().Name);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug, not an outage: fail the run visibly rather than let every instance retry it forever.
            logger.LogError(e, "Workflow run {RunId} failed unexpectedly", run.Id);
            await FinishAsync(run, null, RunStatuses.Failed, "internal_error", "The run failed unexpectedly; the error is reported to the operators.", null, CancellationToken.None);
        }
    }

    private async Task ExecuteStepsAsync(ClaimedRun run, RunControl control)
    {
        CompiledWorkflow? workflow;
        List<StepRecord> records;
        // A run starting at its first step has no record yet (a retry's starts with the copied ones): with its version
        // cached, it starts without a round trip.
        workflow = versions.Cached(run.WorkflowId, run.Version);
        records = [];
        if (workflow is null || !run.JustStarted || run.NextStep > 0)
        {
            await using var connection = await dataSource.OpenConnectionAsync(control.Token);
            workflow ??= await versions.GetAsync(connection, run.WorkflowId, run.Version, control.Token);
            if (!run.JustStarted || run.NextStep > 0)
            {
                records = (await connection.QueryAsync<StepRecord>(new CommandDefinition("""
                    SELECT index, name, status, attempts, input::text AS Input, output::text AS Output, error_class AS ErrorClass, error, started_at AS StartedAt
                    FROM workflow_run_steps WHERE run_id = @Id ORDER BY index
                    """, new { run.Id }, cancellationToken: control.Token))).AsList();
            }
        }
        if (workflow is null)
        {
            await FinishAsync(run, workflow, RunStatuses.Failed, "definition_missing", $"Version {run.Version} of the workflow cannot be read.", null, control.Token);
            return;
        }

        var scope = RunScope.Create(JsonNode.Parse(run.TriggerData) as JsonObject ?? [], run.Input is null ? null : JsonNode.Parse(run.Input), new JsonObject
        {
            ["id"] = run.Id.ToString(), ["workflowId"] = run.WorkflowId.ToString(), ["version"] = run.Version,
            ["createdAt"] = run.CreatedAt.AsUtc(), ["startedAt"] = run.StartedAt.AsUtc(),
        });
        foreach (var record in records.Where(r => r.Status != StepStatuses.Waiting))
        {
            RunScope.AddStep(scope, record.Name, record.Status, record.Output is null ? null : JsonNode.Parse(record.Output), record.Error);
        }

        var deadline = run.DeadlineAt.AsUtc();
        if (run.CancelRequested)
        {
            await FinishAsync(run, workflow, RunStatuses.Cancelled, "cancelled", "Cancelled on request.", null, control.Token);
            return;
        }
        if (time.GetUtcNow() >= deadline)
        {
            await FinishAsync(run, workflow, RunStatuses.TimedOut, "run_timeout", $"The run did not finish within {workflow.RunTimeout.TotalSeconds:0} s.", null, control.Token);
            return;
        }

        // Event triggers test the condition per event as they match; the others test it once, before the first step.
        if (run.NextStep == 0 && records.Count == 0 && workflow.Condition is { } condition && workflow.TriggerType != WorkflowTriggerTypes.Event)
        {
            var (value, error) = condition.Test(scope);
            if (error is not null)
            {
                await FinishAsync(run, workflow, RunStatuses.Failed, "condition", $"The workflow's condition could not be evaluated: {error}", null, control.Token);
                return;
            }
            if (!value)
            {
                await FinishAsync(run, workflow, RunStatuses.Succeeded, null, null, null, control.Token, skipAllFrom: 0, skipReason: "The workflow's condition was false.");
                return;
            }
        }

        using var runTimeout = CancellationTokenSource.CreateLinkedTokenSource(control.Token);
        runTimeout.CancelAfter(Max(deadline - time.GetUtcNow(), TimeSpan.Zero));
        for (var index = run.NextStep; index < workflow.Steps.Count; index++)
        {
            // A cancel that arrived between steps (no call in flight to abort) ends the run before the next one.
            if (control.Reason is RunControl.Cancelled)
            {
                await FinishAsync(run, workflow, RunStatuses.Cancelled, "cancelled", "Cancelled on request.", null, CancellationToken.None);
                return;
            }
            var step = workflow.Steps[index];
            var record = records.FirstOrDefault(r => r.Index == index);
            var outcome = await RunStepAsync(run, workflow, step, record, scope, control, runTimeout.Token);
            var finishedStep = outcome.Status is StepStatuses.Succeeded or StepStatuses.Skipped or StepStatuses.Failed;
            if (finishedStep) RunScope.AddStep(scope, step.Name, outcome.Status, StepRecords.Keep(outcome.Output), outcome.Error);

            switch (outcome.Status)
            {
                case StepStatuses.Succeeded or StepStatuses.Skipped:
                case StepStatuses.Failed when step.ContinueOnError:
                    if (index == workflow.Steps.Count - 1)
                    {
                        await FinishAsync(run, workflow, RunStatuses.Succeeded, null, null, outcome, CancellationToken.None);
                        return;
                    }
                    if (!await SaveAsync(run, outcome, new RunChange(index + 1, RunStatuses.Running), null, CancellationToken.None)) return;
                    break;
                case StepStatuses.Waiting when control.Reason is RunControl.Cancelled:
                    await FinishAsync(run, workflow, RunStatuses.Cancelled, "cancelled", "Cancelled on request.", outcome with { Status = StepStatuses.Cancelled }, CancellationToken.None);
                    return;
                case StepStatuses.Waiting:
                    var due = outcome.ResumeAt!.Value < deadline ? outcome.ResumeAt.Value : deadline;
                    if (await SaveAsync(run, outcome, new RunChange(index, RunStatuses.Running, due, Release: true), null, CancellationToken.None)) control.WakeAt(due);
                    return;
                case StepStatuses.Failed:
                    await FinishAsync(run, workflow, RunStatuses.Failed, outcome.ErrorClass, $"Step {step.Name} failed: {outcome.Error}", outcome, CancellationToken.None);
                    return;
                case StepStatuses.Cancelled:
                    await FinishAsync(run, workflow, RunStatuses.Cancelled, "cancelled", "Cancelled on request.", outcome, CancellationToken.None);
                    return;
                case StepStatuses.TimedOut:
                    await FinishAsync(run, workflow, RunStatuses.TimedOut, "run_timeout", $"The run did not finish within {workflow.RunTimeout.TotalSeconds:0} s.", outcome, CancellationToken.None);
                    return;
            }
        }
        // No step left (a run retried past its last step): nothing more to do.
        await FinishAsync(run, workflow, RunStatuses.Succeeded, null, null, null, CancellationToken.None);
    }

    private async Task<StepOutcome> RunStepAsync(ClaimedRun run, CompiledWorkflow workflow, CompiledStep step, StepRecord? record, JsonObject scope,
        RunControl control, CancellationToken runToken)
    {
        var started = record?.StartedAt?.AsUtc() ?? time.GetUtcNow();
        var attempts = record?.Attempts ?? 0;
        StepOutcome Outcome(string status, JsonNode? input = null, JsonNode? output = null, string? errorClass = null, string? error = null, DateTimeOffset? resumeAt = null) =>
            new(step, status, attempts, input, output, errorClass, error, started, resumeAt);

        if (step.When is { } when)
        {
            var (value, error) = when.Test(scope);
            if (error is not null) return Outcome(StepStatuses.Failed, errorClass: "condition", error: $"Its 'when' could not be evaluated: {error}");
            if (!value) return Outcome(StepStatuses.Skipped, error: "Its 'when' was false.");
        }
        var (input, templateError) = WorkflowTemplate.Render(step.Input, scope, $"steps[{step.Index}].input");
        if (templateError is not null) return Outcome(StepStatuses.Failed, errorClass: "template", error: $"{templateError.Field}: {templateError.Message}");

        using var stepTimeout = CancellationTokenSource.CreateLinkedTokenSource(runToken);
        stepTimeout.CancelAfter(step.Timeout);
        StepResult result;
        try
        {
            attempts++;
            result = step.Type switch
            {
                WorkflowStepTypes.Webhook => await steps.CallWebhookAsync(run, step, input, stepTimeout.Token),
                WorkflowStepTypes.Delay => steps.Delay(input, resuming: record is not null),
                _ => StepResult.Done(null), // notify: its notification is written with the step's record (see SaveAsync)
            };
        }
        catch (OperationCanceledException) when (control.Reason is RunControl.Cancelled)
        {
            return Outcome(StepStatuses.Cancelled, input, errorClass: "cancelled", error: "Cancelled on request while the step ran.");
        }
        catch (OperationCanceledException) when (control.Reason is null && runToken.IsCancellationRequested)
        {
            return Outcome(StepStatuses.TimedOut, input, errorClass: "run_timeout", error: "The run's timeout ended the step.");
        }
        catch (OperationCanceledException) when (control.Reason is null && stepTimeout.IsCancellationRequested)
        {
            result = StepResult.Failure("timeout", $"No answer within the step's timeout of {step.Timeout.TotalSeconds:0.#} s.", retryable: true, output: null);
        }

        if (result.ResumeAt is { } resumeAt) return Outcome(StepStatuses.Waiting, input, result.Output, resumeAt: resumeAt) with { Attempts = record?.Attempts ?? 0 };
        if (result.ErrorClass is null) return Outcome(StepStatuses.Succeeded, input, result.Output) with { Notify = step.Type == WorkflowStepTypes.Notify };
        if (result.Retryable && attempts < step.MaxAttempts)
        {
            var wait = StepRunner.Backoff(step, attempts, result.RetryAfter);
            return Outcome(StepStatuses.Waiting, input, result.Output, result.ErrorClass, result.Error, time.GetUtcNow() + wait);
        }
        return Outcome(StepStatuses.Failed, input, result.Output, result.ErrorClass, result.Error);
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Where a write leaves the run: its next step, its status, and for a wait, when it is due again.</summary>
    private sealed record RunChange(int NextStep, string Status, DateTimeOffset? DueAt = null, bool Release = false, string? ErrorClass = null, string? Error = null)
    {
        public bool Final => RunStatuses.Final.Contains(Status);
    }

    /// <summary>Writes the step's record and the run's change in one transaction, while the run is still ours; false if it is not.</summary>
    private async Task<bool> SaveAsync(ClaimedRun run, StepOutcome? step, RunChange change, CompiledWorkflow? workflow, CancellationToken cancellationToken,
        IReadOnlyList<StepOutcome>? skipped = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
        await using var transaction = await connection.BeginTransactionAsync(timeout.Token);
        var row = await connection.QuerySingleOrDefaultAsync<(DateTime CreatedAt, DateTime? StartedAt, DateTime? FinishedAt)?>(new CommandDefinition("""
            UPDATE workflow_runs SET next_step = @NextStep, status = @Status, due_at = coalesce(@DueAt, due_at),
                lease_owner = CASE WHEN @Release OR @Final THEN NULL ELSE lease_owner END,
                lease_expires_at = CASE WHEN @Release OR @Final THEN NULL ELSE lease_expires_at END,
                error_class = @ErrorClass, error = @Error, finished_at = CASE WHEN @Final THEN now() END
            WHERE id = @Id AND lease_owner = @LeaseOwner AND status IN ('queued', 'running')
            RETURNING created_at, started_at, finished_at
            """, new { change.NextStep, change.Status, change.DueAt, change.Release, change.Final, change.ErrorClass, change.Error, run.Id, run.LeaseOwner },
            transaction, cancellationToken: timeout.Token));
        if (row is null)
        {
            LogLeaseLost(logger, run.Id);
            return false;
        }
        var events = new List<StreamEvent>();
        foreach (var record in (skipped ?? []).Append(step).OfType<StepOutcome>())
        {
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO workflow_run_steps (run_id, index, name, type, status, attempts, input, output, error_class, error, started_at, finished_at)
                VALUES (@runId, @Index, @Name, @Type, @Status, @Attempts, @input::jsonb, @output::jsonb, @ErrorClass, @Error, @StartedAt,
                        CASE WHEN @Status = 'waiting' THEN NULL ELSE now() END)
                ON CONFLICT (run_id, index) DO UPDATE SET status = excluded.status, attempts = excluded.attempts, input = excluded.input,
                    output = excluded.output, error_class = excluded.error_class, error = excluded.error, finished_at = excluded.finished_at
                """,
                new
                {
                    runId = run.Id, record.Step.Index, record.Step.Name, record.Step.Type, record.Status, record.Attempts,
                    input = StepRecords.Keep(record.Input)?.ToJsonString(), output = StepRecords.Keep(record.Output)?.ToJsonString(),
                    record.ErrorClass, record.Error, StartedAt = record.StartedAt.UtcDateTime,
                }, transaction, cancellationToken: timeout.Token));
            if (record.Notify) await steps.NotifyAsync(connection, transaction, run, record.Step, record.Input, timeout.Token);
        }
        if (change.Final)
        {
            var update = new RunUpdate(run.Id, run.WorkflowId, run.Version, change.Status, run.TriggerType, row.Value.CreatedAt.AsUtc(), row.Value.StartedAt.AsUtc(),
                row.Value.FinishedAt.AsUtc(), change.ErrorClass);
            await RunQueue.AnnounceAsync(connection, transaction, run.OrgId, update, timeout.Token);
            if (change.Status is RunStatuses.Failed or RunStatuses.TimedOut && workflow is not null)
            {
                events.AddRange(await ReportFailureAsync(connection, transaction, run, workflow, change, timeout.Token));
            }
        }
        await transaction.CommitAsync(timeout.Token);
        await notifier.PublishAsync(events);
        if (change.Final) LogFinished(logger, run.Id, run.WorkflowId, change.Status, change.ErrorClass);
        return true;
    }

    private Task FinishAsync(ClaimedRun run, CompiledWorkflow? workflow, string status, string? errorClass, string? error, StepOutcome? step,
        CancellationToken cancellationToken, int? skipAllFrom = null, string? skipReason = null)
    {
        var skipped = skipAllFrom is { } from && workflow is not null
            ? workflow.Steps.Skip(from).Select(s => new StepOutcome(s, StepStatuses.Skipped, 0, null, null, null, skipReason, time.GetUtcNow(), null)).ToList()
            : null;
        return SaveAsync(run, step, new RunChange(step?.Step.Index ?? run.NextStep, status, ErrorClass: errorClass, Error: error), workflow, cancellationToken, skipped);
    }

    /// <summary>A failed or timed-out run tells the workflow's owner (if still a member) and the failure integration, if one is set.</summary>
    private async Task<IReadOnlyList<StreamEvent>> ReportFailureAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedRun run,
        CompiledWorkflow workflow, RunChange change, CancellationToken cancellationToken)
    {
        var data = new { workflowId = run.WorkflowId, runId = run.Id, version = run.Version, status = change.Status, errorClass = change.ErrorClass, error = change.Error };
        if (workflow.FailureIntegrationId is { } integrationId)
        {
            try
            {
                await outbox.EnqueueAsync(connection, transaction, run.OrgId, integrationId, "workflow.run.failed", data, cancellationToken);
            }
            catch (InvalidOperationException)
            {
                LogFailureIntegrationGone(logger, run.Id, integrationId);
            }
        }
        if (!workflow.NotifyOwnerOnFailure) return [];
        var isMember = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM memberships WHERE org_id = @OrgId AND user_id = @WorkflowOwner)", new { run.OrgId, run.WorkflowOwner },
            transaction, cancellationToken: cancellationToken));
        if (!isMember) return [];
        var verb = change.Status == RunStatuses.TimedOut ? "timed out" : "failed";
        return await notifier.NotifyAsync(connection, transaction, [run.WorkflowOwner], run.OrgId, new NotificationDraft("workflow.run.failed",
            $"{workflow.Definition.Name} {verb}", change.Error, data), cancellationToken);
    }

    /// <summary>Shutting down mid-run: hand the run back now rather than when the lease runs out. Its current step runs again.</summary>
    private async Task ReleaseAsync(ClaimedRun run)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE workflow_runs SET lease_owner = NULL, lease_expires_at = NULL, due_at = now()
                WHERE id = @Id AND lease_owner = @LeaseOwner AND status IN ('queued', 'running');
                SELECT pg_notify('workflow_runs', '');
                """, new { run.Id, run.LeaseOwner }, cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            // The lease runs out instead.
        }
    }

    [LoggerMessage(LogLevel.Warning, "Workflow run {RunId} paused: the database is unavailable ({Error}); it continues when its lease runs out")]
    private static partial void LogDatabaseUnavailable(ILogger logger, Guid runId, string error);

    [LoggerMessage(LogLevel.Warning, "Workflow run {RunId} was taken over by another instance (this one's lease ran out); its result here is dropped")]
    private static partial void LogLeaseLost(ILogger logger, Guid runId);

    [LoggerMessage(LogLevel.Information, "Workflow run {RunId} of workflow {WorkflowId} finished: {Status} {ErrorClass}")]
    private static partial void LogFinished(ILogger logger, Guid runId, Guid workflowId, string status, string? errorClass);

    [LoggerMessage(LogLevel.Warning, "Workflow run {RunId} failed, but its failure integration {IntegrationId} no longer exists")]
    private static partial void LogFailureIntegrationGone(ILogger logger, Guid runId, Guid integrationId);
}
