using Dapper;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.FeatureFlags;

namespace Service.Infrastructure.Integrations;

/// <summary>
/// Runs on every instance. Claims due deliveries with FOR UPDATE SKIP LOCKED (instances never take the same row) and a
/// lease: a claimed row's next_attempt_at moves past the attempt's end, so if this instance dies its claims simply come
/// due again elsewhere. Results are written only while the claim is still ours (same claimant, same attempt number).
/// The OutboundWebhooks kill switch stops claiming; queued rows wait and drain when it is turned back on.
/// </summary>
public sealed class DeliveryWorker(IServiceProvider services, ILogger<DeliveryWorker> logger) : BackgroundService
{
    /// <summary>Who holds a claim (kept on the row afterwards: which instance delivered it). Unique per worker, even in one process.</summary>
    public string Instance { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}";

    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _inFlight;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Resolved here: hosted services are built before the startup guard has checked the settings.
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        var options = services.GetRequiredService<IOptions<IntegrationOptions>>().Value;
        var features = services.GetRequiredService<IFeatureManager>();
        var attempts = services.GetRequiredService<DeliveryAttempts>();
        var poll = TimeSpan.FromMilliseconds(options.PollIntervalMilliseconds);
        var running = new List<Task>();
        _ = DatabaseWakeups.ListenAsync(dataSource, WebhookOutbox.Channel, Wake, poll, logger, stoppingToken);

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var free = options.DeliveryConcurrency - Volatile.Read(ref _inFlight);
                // Under load, claim in batches (a quarter of the slots at least): one claim per freed slot made the
                // claim query, not the receivers, the limit.
                var worthClaiming = free > 0 && (free >= Math.Max(1, options.DeliveryConcurrency / 4) || free == options.DeliveryConcurrency);
                if (worthClaiming && await features.IsEnabledAsync(FeatureFlagCatalog.OutboundWebhooks.Name))
                {
                    var claimed = await ClaimAsync(dataSource, Instance, free, options.Lease, stoppingToken);
                    foreach (var delivery in claimed)
                    {
                        Interlocked.Increment(ref _inFlight);
                        running.Add(RunAsync(attempts, delivery, stoppingToken));
                    }
                    running.RemoveAll(t => t.IsCompleted);
                    if (claimed.Count == free) continue; // probably more are due: claim again as soon as a slot frees
                }
                await _wake.WaitAsync(poll, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (NpgsqlException e)
            {
                logger.LogWarning("Webhook deliveries paused for a moment: the database is unavailable ({Error})", e.GetType().Name);
                await Task.Delay(poll, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        // Attempts under way were cancelled with the stopping token and have released their claims.
        await Task.WhenAll(running);
    }

    private async Task RunAsync(DeliveryAttempts attempts, ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        try
        {
            await attempts.RunAsync(delivery, stoppingToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            // The lease makes the row due again; the next attempt will tell.
            logger.LogError(e, "Webhook delivery {DeliveryId} attempt {Attempt} could not be completed", delivery.Id, delivery.Attempts);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            Wake();
        }
    }

    private void Wake()
    {
        try { _wake.Release(); } catch (SemaphoreFullException) { } // already signalled
    }

    private static async Task<List<ClaimedDelivery>> ClaimAsync(NpgsqlDataSource dataSource, string instance, int limit, TimeSpan lease, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<ClaimedDelivery>(new CommandDefinition("""
            WITH due AS (
                SELECT id FROM webhook_deliveries
                WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT @limit
                FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_deliveries d
            SET attempts = d.attempts + 1, claimed_by = @instance, last_attempt_at = now(),
                next_attempt_at = now() + make_interval(secs => @leaseSeconds)
            FROM due, integrations i
            WHERE d.id = due.id AND i.id = d.integration_id
            RETURNING d.id, d.claimed_by AS ClaimedBy, d.org_id AS OrgId, d.integration_id AS IntegrationId, d.event_type AS EventType, d.payload::text AS DataJson,
                      d.attempts, d.max_attempts AS MaxAttempts, d.created_at AS CreatedAt, i.kind, i.url AS PublicUrl, i.secrets,
                      i.previous_secret_expires_at AS PreviousSecretExpiresAt, i.deleted_at IS NOT NULL AS IntegrationDeleted
            """, new { limit, instance, leaseSeconds = lease.TotalSeconds }, cancellationToken: cancellationToken));
        return rows.AsList();
    }
}

/// <summary>A delivery claimed for one attempt, with its integration as stored.</summary>
public sealed class ClaimedDelivery
{
    public Guid Id { get; init; }
    public string ClaimedBy { get; init; } = "";
    public Guid OrgId { get; init; }
    public Guid IntegrationId { get; init; }
    public string EventType { get; init; } = "";
    public string DataJson { get; init; } = "{}";
    public int Attempts { get; init; }
    public int MaxAttempts { get; init; }
    public DateTime CreatedAt { get; init; }
    public string Kind { get; init; } = "";
    public string? PublicUrl { get; init; }
    public byte[] Secrets { get; init; } = [];
    public DateTime? PreviousSecretExpiresAt { get; init; }
    public bool IntegrationDeleted { get; init; }
}
