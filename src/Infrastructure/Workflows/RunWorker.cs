using System.Collections.Concurrent;
using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// Runs on every instance. Claims due runs with FOR UPDATE SKIP LOCKED under a short claim lock (so the per-org and
/// per-workflow limits are exact across instances) and a lease it renews twice a second while it works; a run whose
/// instance died is claimed again when its lease runs out, and continues from its first unfinished step. The renewal
/// also reads cancel requests, so a cancel reaches the run within a second even when Redis, which normally brings it
/// at once, is down. The Workflows kill switch stops claiming; runs wait queued until it is on again.
/// </summary>
public sealed partial class RunWorker(IServiceProvider services, ILogger<RunWorker> logger) : BackgroundService
{
    private static readonly TimeSpan RenewInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Who holds a claim. Unique per worker, even in one process.</summary>
    public string Instance { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";

    private readonly ConcurrentDictionary<Guid, RunControl> _held = new();
    private readonly SemaphoreSlim _wake = new(0, 1);

    public void Wake()
    {
        try { _wake.Release(); } catch (SemaphoreFullException) { }
    }

    /// <summary>A cancel request for a run this instance may hold (from Redis or from the lease renewal).</summary>
    public void Cancel(Guid runId)
    {
        if (_held.TryGetValue(runId, out var control)) control.Signal(RunControl.Cancelled);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var options = services.GetRequiredService<IOptions<WorkflowOptions>>().Value;
        var features = services.GetRequiredService<IFeatureManager>();
        var executor = services.GetRequiredService<RunExecutor>();
        var running = new List<Task>();
        _ = DatabaseWakeups.ListenAsync(dataSource, RunQueue.Channel, Wake, options.PollInterval, logger, stoppingToken);
        _ = RenewLeasesAsync(dataSource, options, stoppingToken);
        _ = SubscribeCancelsAsync(options, stoppingToken);

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var free = options.WorkersPerInstance - _held.Count;
                // Under load, claim in batches (a quarter of the workers at least): the claim runs under a lock shared by
                // all instances, and one claim per finished run made it, not the runs, the limit.
                var worthClaiming = free > 0 && (free >= Math.Max(1, options.WorkersPerInstance / 4) || free == options.WorkersPerInstance);
                if (worthClaiming && await features.IsEnabledAsync(FeatureFlagCatalog.Workflows.Name))
                {
                    var claimed = await ClaimAsync(dataSource, options, free, stoppingToken);
                    foreach (var run in claimed)
                    {
                        var control = new RunControl(WakeAt);
                        _held[run.Id] = control;
                        running.Add(RunAsync(executor, run, control, stoppingToken));
                    }
                    running.RemoveAll(t => t.IsCompleted);
                    if (claimed.Count == free) continue;
                }
                await _wake.WaitAsync(options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (NpgsqlException e)
            {
                LogPaused(logger, e.GetType().Name);
                await Task.Delay(options.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Claiming workflow runs failed");
                await Task.Delay(options.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        foreach (var control in _held.Values) control.Signal(RunControl.Shutdown);
        await Task.WhenAll(running);
    }

    private async Task RunAsync(RunExecutor executor, ClaimedRun run, RunControl control, CancellationToken stoppingToken)
    {
        await using var onStop = stoppingToken.Register(() => control.Signal(RunControl.Shutdown));
        try
        {
            await Task.Yield();
            await executor.ExecuteAsync(run, control);
        }
        finally
        {
            _held.TryRemove(run.Id, out _);
            control.Dispose();
            Wake();
        }
    }

    private void WakeAt(DateTimeOffset due)
    {
        var wait = due - DateTimeOffset.UtcNow;
        if (wait <= TimeSpan.Zero) Wake();
        else _ = Task.Delay(wait < TimeSpan.FromHours(1) ? wait : TimeSpan.FromHours(1)).ContinueWith(_ => Wake(), TaskScheduler.Default);
    }

    private async Task<List<ClaimedRun>> ClaimAsync(NpgsqlDataSource dataSource, WorkflowOptions options, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // One claimer at a time across instances: the limits below count claims, and two claimers would each see room for the same slot.
        await connection.ExecuteAsync(new CommandDefinition("SELECT pg_advisory_xact_lock(hashtextextended('workflows:claim', 0))",
            transaction: transaction, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<ClaimedRun>(new CommandDefinition("""
            WITH due AS (
                SELECT r.id, r.org_id, r.workflow_id, r.version, r.status, r.due_at
                FROM workflow_runs r
                WHERE r.status IN ('queued', 'running') AND r.due_at <= now() AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())
                ORDER BY r.due_at
                LIMIT @window
            ), candidates AS (
                SELECT due.*,
                       row_number() OVER (PARTITION BY org_id ORDER BY due_at, id) AS org_rank,
                       row_number() OVER (PARTITION BY workflow_id, status ORDER BY due_at, id) AS workflow_rank
                FROM due
            ), busy AS (
                SELECT org_id, count(*) AS n FROM workflow_runs
                WHERE status IN ('queued', 'running') AND lease_expires_at >= now() AND org_id IN (SELECT org_id FROM candidates)
                GROUP BY org_id
            ), started AS (
                SELECT workflow_id, count(*) AS n FROM workflow_runs
                WHERE status = 'running' AND workflow_id IN (SELECT workflow_id FROM candidates WHERE status = 'queued')
                GROUP BY workflow_id
            ), chosen AS (
                SELECT c.id, c.status AS previous_status FROM candidates c
                JOIN workflow_versions v ON v.workflow_id = c.workflow_id AND v.version = c.version
                LEFT JOIN busy b ON b.org_id = c.org_id
                LEFT JOIN started s ON s.workflow_id = c.workflow_id
                WHERE c.org_rank + coalesce(b.n, 0) <= @maxPerOrg
                  AND (c.status = 'running'
                       OR c.workflow_rank + coalesce(s.n, 0) <= coalesce((v.definition #>> '{settings,maxConcurrentRuns}')::int, 10))
                ORDER BY c.due_at
                LIMIT @limit
            )
            , claimed AS (
                UPDATE workflow_runs r
                SET status = 'running', lease_owner = @instance, lease_expires_at = now() + make_interval(secs => @leaseSeconds),
                    started_at = coalesce(r.started_at, now()),
                    deadline_at = coalesce(r.deadline_at, now() + make_interval(secs => r.timeout_seconds))
                FROM chosen, workflows w
                WHERE r.id = chosen.id AND w.id = r.workflow_id
                RETURNING r.id, r.org_id, r.workflow_id, r.version, r.trigger_type, r.trigger_data, r.input, r.next_step, r.created_at, r.started_at,
                          r.deadline_at, chosen.previous_status = 'queued' AS just_started, r.cancel_requested_at IS NOT NULL AS cancel_requested,
                          w.created_by, r.lease_owner
            ), announced AS (
                -- run.updated (running) for the runs that start now, in the claim's commit (the shape of RunUpdate).
                INSERT INTO stream_outbox (org_id, type, data)
                SELECT org_id, 'run.updated', jsonb_build_object('runId', id, 'workflowId', workflow_id, 'version', version, 'status', 'running',
                    'triggerType', trigger_type, 'createdAt', created_at, 'startedAt', started_at, 'finishedAt', NULL, 'errorClass', NULL)
                FROM claimed WHERE just_started
            )
            SELECT id, org_id AS OrgId, workflow_id AS WorkflowId, version, trigger_type AS TriggerType, trigger_data::text AS TriggerData,
                   input::text AS Input, next_step AS NextStep, created_at AS CreatedAt, started_at AS StartedAt, deadline_at AS DeadlineAt,
                   just_started AS JustStarted, cancel_requested AS CancelRequested, created_by AS WorkflowOwner, lease_owner AS LeaseOwner
            FROM claimed
            """, new { maxPerOrg = options.MaxRunningPerOrg, limit, window = Math.Max(100, limit * 8), instance = Instance, leaseSeconds = options.LeaseSeconds },
            transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return rows.AsList();
    }

    /// <summary>Keeps the leases of held runs; a run whose lease is gone (taken over) is stopped, one with a cancel request is cancelled.</summary>
    private async Task RenewLeasesAsync(NpgsqlDataSource dataSource, WorkflowOptions options, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(RenewInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var held = _held.Keys.ToArray();
            if (held.Length == 0 || stoppingToken.IsCancellationRequested) continue;
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                var renewed = (await connection.QueryAsync<(Guid Id, bool CancelRequested)>(new CommandDefinition("""
                    UPDATE workflow_runs SET lease_expires_at = now() + make_interval(secs => @leaseSeconds)
                    WHERE id = ANY(@held) AND lease_owner = @instance AND status IN ('queued', 'running')
                    RETURNING id, cancel_requested_at IS NOT NULL
                    """, new { held, instance = Instance, leaseSeconds = options.LeaseSeconds }, cancellationToken: stoppingToken))).ToDictionary(r => r.Id, r => r.CancelRequested);
                foreach (var id in held)
                {
                    if (!_held.TryGetValue(id, out var control)) continue;
                    if (!renewed.TryGetValue(id, out var cancelRequested))
                    {
                        // Finished meanwhile (then it is gone from _held soon) or taken over: either way, stop.
                        control.Signal(RunControl.LeaseLost);
                    }
                    else if (cancelRequested) control.Signal(RunControl.Cancelled);
                }
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException || (e is OperationCanceledException && !stoppingToken.IsCancellationRequested))
            {
                LogRenewalFailed(logger, held.Length, e.GetType().Name);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Cancel requests announced on Redis reach the instance holding the run at once.</summary>
    private async Task SubscribeCancelsAsync(WorkflowOptions options, CancellationToken stoppingToken)
    {
        var redis = services.GetRequiredService<RedisConnection>();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var multiplexer = await redis.GetMultiplexerAsync(stoppingToken).WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);
                await multiplexer.GetSubscriber().SubscribeAsync(RedisChannel.Literal(options.CancelChannel), (_, message) =>
                {
                    if (Guid.TryParse(message.ToString(), out var runId)) Cancel(runId);
                }).WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);
                return; // the multiplexer resubscribes by itself after a reconnect
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(LogLevel.Warning, "Workflow runs paused for a moment: the database is unavailable ({Error})")]
    private static partial void LogPaused(ILogger logger, string error);

    [LoggerMessage(LogLevel.Warning, "The leases of {Runs} workflow runs could not be renewed ({Error}); they are taken over if this lasts")]
    private static partial void LogRenewalFailed(ILogger logger, int runs, string error);
}
