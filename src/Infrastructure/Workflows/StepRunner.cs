using System.Data.Common;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Secrets;
using Service.Infrastructure.Streaming;

namespace Service.Infrastructure.Workflows;

public static class StepStatuses
{
    public const string Waiting = "waiting", Succeeded = "succeeded", Failed = "failed", Skipped = "skipped", Cancelled = "cancelled", TimedOut = "timed_out";
}

/// <summary>What one attempt of a step came to: an output, a failure (retryable or not), or a time to come back (a delay).</summary>
public sealed record StepResult(JsonNode? Output, string? ErrorClass, string? Error, bool Retryable, TimeSpan? RetryAfter, DateTimeOffset? ResumeAt)
{
    public static StepResult Done(JsonNode? output) => new(output, null, null, false, null, null);
    public static StepResult Failure(string errorClass, string error, bool retryable, JsonNode? output, TimeSpan? retryAfter = null) =>
        new(output, errorClass, error, retryable, retryAfter, null);
}

/// <summary>A step's state as it is recorded: status, attempts made, rendered input, output, error, times.</summary>
public sealed record StepOutcome(CompiledStep Step, string Status, int Attempts, JsonNode? Input, JsonNode? Output, string? ErrorClass, string? Error,
    DateTimeOffset StartedAt, DateTimeOffset? ResumeAt)
{
    /// <summary>A notify step whose notification is written in the transaction that records it (so it is sent exactly once).</summary>
    public bool Notify { get; init; }
}

/// <summary>What each step type does: webhook calls an integration, notify tells users, delay waits without holding a worker.</summary>
public sealed class StepRunner(
    [FromKeyedServices(DatabaseRegistration.Background)] NpgsqlDataSource dataSource,
    SecretBox box, WebhookSender sender, IOptions<WorkflowOptions> options, TimeProvider time)
{
    public const string WebhookEventType = "workflow.step";

    /// <summary>
    /// Calls the step's integration with the rendered <c>body</c> as the message's data. The message id (the
    /// webhook-id receivers deduplicate on) is derived from the run and the step, so every attempt, on any instance,
    /// carries the same one. Retried only on timeouts, 429 and 5xx.
    /// </summary>
    public async Task<StepResult> CallWebhookAsync(ClaimedRun run, CompiledStep step, JsonNode? input, CancellationToken cancellationToken)
    {
        IntegrationTarget target;
        IntegrationKind kind;
        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            var integration = await connection.QuerySingleOrDefaultAsync<(string Kind, string? Url, byte[] Secrets, DateTime? PreviousSecretExpiresAt)?>(new CommandDefinition("""
                SELECT kind, url, secrets, previous_secret_expires_at FROM integrations
                WHERE id = @IntegrationId AND org_id = @OrgId AND deleted_at IS NULL
                """, new { step.IntegrationId, run.OrgId }, cancellationToken: cancellationToken));
            if (integration is not { } found || IntegrationKinds.Find(found.Kind) is not { } foundKind)
            {
                return StepResult.Failure(WebhookSender.IntegrationDeleted, "The integration was deleted.", false, null);
            }
            kind = foundKind;
            try
            {
                var secrets = IntegrationSecrets.Open(box, step.IntegrationId!.Value, found.Secrets);
                target = kind.Target(step.IntegrationId.Value, found.Url, secrets, found.PreviousSecretExpiresAt.AsUtc(), time.GetUtcNow());
            }
            catch (SecretUnavailableException)
            {
                return StepResult.Failure(WebhookSender.SecretUnavailable, "The integration's secrets cannot be decrypted.", false, null);
            }
        }

        var body = (input as JsonObject)?["body"]?.ToJsonString() ?? "{}";
        var message = new OutboundMessage(MessageId(run.Id, step.Index), WebhookEventType, run.CreatedAt.AsUtc(), body);
        using var request = kind.BuildRequest(target, message, time.GetUtcNow());
        var maxBytes = options.Value.MaxResponseBytes;
        var result = await sender.SendAsync(OutboundHttp.Steps, request, step.Timeout, cancellationToken, maxBytes);
        var output = result.StatusCode is { } status
            ? new JsonObject { ["status"] = status, ["body"] = ParseBody(result.ResponseExcerpt, maxBytes), ["durationMs"] = result.LatencyMs, ["webhookId"] = message.WebhookId }
            : null;
        if (result.Delivered) return StepResult.Done(output);
        var retryable = result.ErrorClass == WebhookSender.Timeout || result.StatusCode is 429 or >= 500;
        return StepResult.Failure(result.ErrorClass ?? "error", result.Error ?? "The call failed.", retryable, output, result.RetryAfter);
    }

    /// <summary>A stable id per (run, step): the same webhook-id on every attempt.</summary>
    public static Guid MessageId(Guid runId, int stepIndex)
    {
        Span<byte> bytes = stackalloc byte[20];
        runId.TryWriteBytes(bytes);
        BitConverter.TryWriteBytes(bytes[16..], stepIndex);
        return new Guid(SHA256.HashData(bytes)[..16]);
    }

    private static JsonNode? ParseBody(string? text, int maxBytes)
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (System.Text.Encoding.UTF8.GetByteCount(text) < maxBytes)
        {
            try
            {
                return JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { MaxDepth = 32 });
            }
            catch (JsonException)
            {
            }
        }
        return JsonValue.Create(text);
    }

    /// <summary>The first time, the time to resume; when the run is claimed again at that time (<paramref name="resuming"/>), done.</summary>
    public StepResult Delay(JsonNode? input, bool resuming)
    {
        var now = time.GetUtcNow();
        if (resuming) return StepResult.Done(new JsonObject { ["resumedAt"] = now });
        var seconds = (input as JsonObject)?["seconds"] switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => WorkflowExpression.NumberOf(v),
            JsonValue v when v.GetValueKind() == JsonValueKind.String && double.TryParse(v.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture, out var parsed) => parsed,
            _ => double.NaN,
        };
        if (!(seconds is >= 0 and <= WorkflowRules.MaxDelaySeconds))
        {
            return StepResult.Failure("input", $"seconds must be a number from 0 to {WorkflowRules.MaxDelaySeconds}.", false, null);
        }
        var resumeAt = now + TimeSpan.FromSeconds(seconds);
        return new StepResult(new JsonObject { ["resumeAt"] = resumeAt }, null, null, false, null, resumeAt);
    }

    /// <summary>The notify step's notification, queued in the transaction that records the step: recipients are current members only.</summary>
    public async Task NotifyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, ClaimedRun run, CompiledStep step,
        JsonNode? input, CancellationToken cancellationToken)
    {
        var role = (input as JsonObject)?["toRole"]?.GetValueKind() == JsonValueKind.String ? input!["toRole"]!.GetValue<string>() : null;
        var roles = role is null ? [] : WorkflowRules.Roles.SkipWhile(r => r != role).ToArray();
        var userIds = ((input as JsonObject)?["toUserIds"] as JsonArray ?? [])
            .Select(u => u is JsonValue v && v.GetValueKind() == JsonValueKind.String && Guid.TryParse(v.GetValue<string>(), out var id) ? id : Guid.Empty)
            .Where(id => id != Guid.Empty).ToArray();
        var recipients = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT user_id FROM memberships WHERE org_id = @OrgId AND (role = ANY(@roles) OR user_id = ANY(@userIds))",
            new { run.OrgId, roles, userIds }, transaction, cancellationToken: cancellationToken))).ToList();
        var title = Text(input, "title", 500) ?? step.Name;
        // Queued, not numbered here: many runs notifying the same people would otherwise wait on each other's commits.
        await StreamOutbox.QueueNotificationAsync(connection, transaction, run.OrgId, recipients,
            new NotificationDraft("workflow.notify", title, Text(input, "body", 5000), new { workflowId = run.WorkflowId, runId = run.Id, step = step.Name }),
            cancellationToken);
    }

    private static string? Text(JsonNode? input, string name, int max) => (input as JsonObject)?[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>() is var s && s.Length > max ? s[..max] : v.GetValue<string>(),
        var other => other.ToJsonString() is var json && json.Length > max ? json[..max] : other.ToJsonString(),
    };

    /// <summary>
    /// The wait before the next attempt: the initial delay doubled per attempt made, capped at the max delay, then
    /// jittered to between half and all of it; never sooner than the receiver's Retry-After (itself capped at an hour).
    /// </summary>
    public static TimeSpan Backoff(CompiledStep step, int attemptsMade, TimeSpan? retryAfter)
    {
        var exponential = step.InitialDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attemptsMade - 1, 30));
        var bound = Math.Min(exponential, step.MaxDelay.TotalMilliseconds);
        var wait = TimeSpan.FromMilliseconds(bound / 2 + Random.Shared.NextDouble() * bound / 2);
        if (retryAfter is { } wanted)
        {
            var capped = wanted < TimeSpan.FromHours(1) ? wanted : TimeSpan.FromHours(1);
            if (capped > wait) wait = capped;
        }
        return wait;
    }
}

/// <summary>What a step's record keeps of its input and output: secrets redacted by key name, and at most 64 KiB.</summary>
public static class StepRecords
{
    public const int MaxRecordedBytes = 64 * 1024;
    private static readonly string[] SecretKeyParts = ["password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "authorization", "cookie", "credential"];

    public static JsonNode? Keep(JsonNode? value)
    {
        if (value is null) return null;
        var redacted = Redact(value);
        var json = redacted!.ToJsonString();
        if (json.Length <= MaxRecordedBytes) return redacted;
        return new JsonObject { ["truncated"] = true, ["bytes"] = json.Length, ["preview"] = json[..4096] };
    }

    private static JsonNode? Redact(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key,
            SecretKeyParts.Any(part => p.Key.Contains(part, StringComparison.OrdinalIgnoreCase)) ? JsonValue.Create("[redacted]") : Redact(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Redact).ToArray()),
        _ => node?.DeepClone(),
    };
}
