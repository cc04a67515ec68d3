using System.Threading.Channels;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Secrets;

namespace Service.Infrastructure.Integrations;

/// <summary>One attempt of a claimed delivery: build the request from the integration, send it, record what happened and when to try again.</summary>
public sealed class DeliveryAttempts(
    [FromKeyedServices(DatabaseRegistration.Background)] NpgsqlDataSource dataSource,
    SecretBox box, WebhookSender sender, Notifier notifier, IOptions<IntegrationOptions> options, TimeProvider time, ILogger<DeliveryAttempts> logger)
{
    public async Task RunAsync(ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        AttemptResult result;
        try
        {
            result = await AttemptAsync(delivery, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down mid-attempt: hand the row back now rather than when the lease runs out.
            await ReleaseAsync(delivery);
            throw;
        }
        await RecordAsync(delivery, result);
    }

    private async Task<AttemptResult> AttemptAsync(ClaimedDelivery delivery, CancellationToken stoppingToken)
    {
        if (delivery.IntegrationDeleted || IntegrationKinds.Find(delivery.Kind) is not { } kind)
        {
            return new AttemptResult(false, false, null, WebhookSender.IntegrationDeleted, "The integration was deleted.", 0, null, null);
        }
        IntegrationSecrets secrets;
        try
        {
            secrets = IntegrationSecrets.Open(box, delivery.IntegrationId, delivery.Secrets);
        }
        catch (SecretUnavailableException e)
        {
            // Retried: the operators may restore the missing key (ENCRYPTION_KEYS_OLD) before the attempts run out.
            logger.LogError("Webhook delivery {DeliveryId} to integration {IntegrationId} cannot be signed: {Reason}", delivery.Id, delivery.IntegrationId, e.Message);
            return new AttemptResult(false, true, null, WebhookSender.SecretUnavailable, "The integration's secrets cannot be decrypted.", 0, null, null);
        }
        var now = time.GetUtcNow();
        var target = kind.Target(delivery.IntegrationId, delivery.PublicUrl, secrets, delivery.PreviousSecretExpiresAt.AsUtc(), now);
        var message = new OutboundMessage(delivery.Id, delivery.EventType, delivery.CreatedAt.AsUtc(), delivery.DataJson);
        using var request = kind.BuildRequest(target, message, now);
        return await sender.SendAsync(OutboundHttp.Deliveries, request, options.Value.AttemptTimeout, stoppingToken);
    }

    private sealed record Outcome(ClaimedDelivery Delivery, AttemptResult Result, string Status, TimeSpan RetryIn, TaskCompletionSource Written);

    private readonly Channel<Outcome> _outcomes = Channel.CreateUnbounded<Outcome>(new UnboundedChannelOptions { SingleReader = true });
    private int _writerStarted;

    /// <summary>
    /// Outcomes are written in batches: whatever finished while the previous batch was being written goes in one
    /// UPDATE and one commit. One commit (one WAL flush) per attempt was what limited throughput.
    /// </summary>
    private async Task RecordAsync(ClaimedDelivery delivery, AttemptResult result)
    {
        if (Interlocked.Exchange(ref _writerStarted, 1) == 0) _ = Task.Run(WriteOutcomesAsync);
        var (status, retryIn) = Decide(delivery, result);
        var outcome = new Outcome(delivery, result, status, retryIn, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        _outcomes.Writer.TryWrite(outcome);
        await outcome.Written.Task;
    }

    private async Task WriteOutcomesAsync()
    {
        var batch = new List<Outcome>(MaxBatch);
        while (await _outcomes.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && _outcomes.Reader.TryRead(out var outcome)) batch.Add(outcome);
            try
            {
                var written = await WriteBatchAsync(batch);
                foreach (var outcome in batch)
                {
                    if (written.Contains(outcome.Delivery.Id)) Report(outcome);
                    outcome.Written.TrySetResult();
                }
            }
            catch (Exception e)
            {
                // Unwritten outcomes are not lost work: the rows' leases run out and the attempts are made again.
                logger.LogWarning("Webhook delivery outcomes could not be recorded ({Error}); {Count} deliveries will be attempted again", e.GetType().Name, batch.Count);
                foreach (var outcome in batch) outcome.Written.TrySetResult();
            }
        }
    }

    private const int MaxBatch = 256;

    private async Task<HashSet<Guid>> WriteBatchAsync(List<Outcome> batch)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
        // A delivery that fails for good notifies the organization's admins in the transaction that records it.
        await using var transaction = batch.Any(o => o.Status == "failed") ? await connection.BeginTransactionAsync(timeout.Token) : null;
        // Only while the claim is ours: if the lease ran out and another instance took the row, its attempt decides.
        await using var command = new NpgsqlCommand("""
            UPDATE webhook_deliveries d SET
                status = r.status,
                attempts = d.attempts - r.not_attempted,
                next_attempt_at = now() + make_interval(secs => r.retry_seconds),
                last_status_code = r.status_code, last_error_class = r.error_class, last_error = r.error,
                last_latency_ms = r.latency_ms, last_response_excerpt = r.excerpt,
                completed_at = CASE WHEN r.status = 'pending' THEN NULL ELSE now() END
            FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::int[], $6::float8[], $7::int[], $8::text[], $9::text[], $10::int[], $11::text[])
                AS r(id, claimed_by, attempts, status, not_attempted, retry_seconds, status_code, error_class, error, latency_ms, excerpt)
            WHERE d.id = r.id AND d.claimed_by = r.claimed_by AND d.attempts = r.attempts AND d.status = 'pending'
            RETURNING d.id
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = batch.Select(o => o.Delivery.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = batch.Select(o => o.Delivery.ClaimedBy).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = batch.Select(o => o.Delivery.Attempts).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = batch.Select(o => o.Status).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = batch.Select(o => o.Result.NotAttempted ? 1 : 0).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<double[]> { TypedValue = batch.Select(o => o.RetryIn.TotalSeconds).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<int?[]> { TypedValue = batch.Select(o => o.Result.StatusCode).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = batch.Select(o => o.Result.ErrorClass).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = batch.Select(o => o.Result.Error).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = batch.Select(o => o.Result.LatencyMs).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = batch.Select(o => o.Result.ResponseExcerpt).ToArray() });
        var written = new HashSet<Guid>();
        await using (var reader = await command.ExecuteReaderAsync(timeout.Token))
        {
            while (await reader.ReadAsync(timeout.Token)) written.Add(reader.GetGuid(0));
        }
        if (transaction is null) return written;
        var notices = await NotifyFailuresAsync(connection, transaction, batch.Where(o => o.Status == "failed" && written.Contains(o.Delivery.Id)).ToList(), timeout.Token);
        await transaction.CommitAsync(timeout.Token);
        await notifier.PublishAsync(notices);
        return written;
    }

    /// <summary>
    /// One notification per integration that had failures in this batch, unless the org's admins were told about
    /// that integration within the last hour: a receiver that is down must not bury them in one notice per message.
    /// </summary>
    private async Task<IReadOnlyList<Streaming.StreamEvent>> NotifyFailuresAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        List<Outcome> failed, CancellationToken cancellationToken)
    {
        var notices = new List<Streaming.StreamEvent>();
        if (failed.Count == 0) return notices;
        // Several organizations' admins are numbered below, one group after another: lock them all first, in order.
        var admins = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT user_id FROM memberships WHERE org_id = ANY(@orgs) AND role IN ('owner', 'admin')",
            new { orgs = failed.Select(o => o.Delivery.OrgId).Distinct().ToArray() }, transaction, cancellationToken: cancellationToken))).ToList();
        await Streaming.StreamLog.LockHeadsAsync(connection, transaction, admins, cancellationToken);
        foreach (var group in failed.GroupBy(o => (o.Delivery.OrgId, o.Delivery.IntegrationId)))
        {
            var (orgId, integrationId) = group.Key;
            var name = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition("""
                SELECT i.name FROM integrations i
                WHERE i.id = @integrationId AND NOT EXISTS (
                    SELECT 1 FROM notifications n
                    WHERE n.org_id = @orgId AND n.type = 'delivery.failed' AND n.created_at > now() - interval '1 hour'
                      AND n.data ->> 'integrationId' = @integrationKey)
                """, new { integrationId, orgId, integrationKey = integrationId.ToString() }, transaction, cancellationToken: cancellationToken));
            if (name is null) continue;
            var last = group.Last();
            var count = group.Count();
            notices.AddRange(await notifier.NotifyOrgAdminsAsync(connection, transaction, orgId, null, new NotificationDraft("delivery.failed",
                $"Messages to {name} are failing",
                $"{(count == 1 ? "A" : count.ToString())} {last.Delivery.EventType} message{(count == 1 ? " was" : "s were")} not delivered " +
                $"({last.Result.ErrorClass}{(last.Result.StatusCode is { } code ? $" {code}" : "")}). Redeliver from the delivery log once the receiver is fixed.",
                new { integrationId, deliveryId = last.Delivery.Id, eventType = last.Delivery.EventType, errorClass = last.Result.ErrorClass,
                    statusCode = last.Result.StatusCode, failed = count }), cancellationToken));
        }
        return notices;
    }

    private void Report(Outcome outcome)
    {
        var (delivery, result, status) = (outcome.Delivery, outcome.Result, outcome.Status);
        ServiceDiagnostics.WebhookAttempt(status, result.ErrorClass);
        if (status == "delivered") ServiceDiagnostics.WebhookDelivered(time.GetUtcNow() - delivery.CreatedAt.AsUtc());
        if (status == "failed")
        {
            // The organization's admins see failed deliveries in the delivery log; this line is what operators alert on.
            logger.LogWarning("Webhook delivery {DeliveryId} ({EventType}) to integration {IntegrationId} of organization {OrgId} failed for good after {Attempts} attempts: {ErrorClass} {StatusCode}",
                delivery.Id, delivery.EventType, delivery.IntegrationId, delivery.OrgId, delivery.Attempts, result.ErrorClass, result.StatusCode);
        }
    }

    private (string Status, TimeSpan RetryIn) Decide(ClaimedDelivery delivery, AttemptResult result)
    {
        if (result.Delivered) return ("delivered", TimeSpan.Zero);
        if (!result.Retryable) return ("failed", TimeSpan.Zero);
        if (result.NotAttempted) return ("pending", result.RetryAfter ?? TimeSpan.FromSeconds(options.Value.BreakSeconds));
        if (delivery.Attempts >= delivery.MaxAttempts) return ("failed", TimeSpan.Zero);
        return ("pending", RetryDelay(delivery.Attempts, result.RetryAfter));
    }

    /// <summary>Full jitter: uniformly below the schedule's bound for this retry; never sooner than the receiver's Retry-After (capped).</summary>
    public TimeSpan RetryDelay(int attemptsMade, TimeSpan? retryAfter)
    {
        var bounds = options.Value.RetryBounds;
        var bound = bounds[Math.Clamp(attemptsMade - 1, 0, bounds.Count - 1)];
        var delay = bound * Random.Shared.NextDouble();
        if (retryAfter is { } wanted)
        {
            var capped = TimeSpan.FromSeconds(Math.Min(wanted.TotalSeconds, options.Value.MaxRetryAfterSeconds));
            if (capped > delay) delay = capped;
        }
        return delay;
    }

    private async Task ReleaseAsync(ClaimedDelivery delivery)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await using var connection = await dataSource.OpenConnectionAsync(timeout.Token);
            await connection.ExecuteAsync(new CommandDefinition("""
                UPDATE webhook_deliveries SET attempts = attempts - 1, next_attempt_at = now(), claimed_by = NULL
                WHERE id = @Id AND claimed_by = @ClaimedBy AND attempts = @Attempts AND status = 'pending'
                """, new { delivery.Id, delivery.ClaimedBy, delivery.Attempts }, cancellationToken: timeout.Token));
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
        {
            // The lease will make it due again.
        }
    }
}
