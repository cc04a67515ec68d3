using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Secrets;

namespace Service.Infrastructure.Integrations;

/// <summary>One attempt of a claimed delivery: build the request from the integration, send it, record what happened and when to try again.</summary>
public sealed class DeliveryAttempts(
    [FromKeyedServices(DatabaseRegistration.Background)] NpgsqlDataSource dataSource,
    SecretBox box, WebhookSender sender, IOptions<IntegrationOptions> options, TimeProvider time, ILogger<DeliveryAttempts> logger)
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
        var target = kind.Target(delivery.IntegrationId, delivery.PublicUrl, secrets, Utc(delivery.PreviousSecretExpiresAt), now);
        var message = new OutboundMessage(delivery.Id, delivery.EventType, Utc(delivery.CreatedAt)!.Value, delivery.DataJson);
        using var request = kind.BuildRequest(target, message, now);
        return await sender.SendAsync(OutboundHttp.Deliveries, request, options.Value.AttemptTimeout, stoppingToken);
    }

    private async Task RecordAsync(ClaimedDelivery delivery, AttemptResult result)
    {
        var (status, retryIn) = Decide(delivery, result);
        await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
        // Only while the claim is ours: if the lease ran out and another instance took the row, its attempt decides.
        var updated = await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE webhook_deliveries SET
                status = @status,
                attempts = attempts - @notAttempted,
                next_attempt_at = now() + make_interval(secs => @retrySeconds),
                last_status_code = @StatusCode, last_error_class = @ErrorClass, last_error = @Error,
                last_latency_ms = @LatencyMs, last_response_excerpt = @ResponseExcerpt,
                completed_at = CASE WHEN @status = 'pending' THEN NULL ELSE now() END
            WHERE id = @Id AND claimed_by = @ClaimedBy AND attempts = @Attempts AND status = 'pending'
            """,
            new
            {
                status, notAttempted = result.NotAttempted ? 1 : 0, retrySeconds = retryIn.TotalSeconds, result.StatusCode, result.ErrorClass, result.Error,
                result.LatencyMs, result.ResponseExcerpt, delivery.Id, delivery.ClaimedBy, delivery.Attempts,
            }));
        if (updated == 0) return;

        ServiceDiagnostics.WebhookAttempt(status, result.ErrorClass);
        if (status == "delivered") ServiceDiagnostics.WebhookDelivered(time.GetUtcNow() - Utc(delivery.CreatedAt)!.Value);
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

    private static DateTimeOffset? Utc(DateTime? value) => value is { } v ? new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)) : null;
}
