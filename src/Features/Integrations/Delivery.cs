using Service.Infrastructure.Database;

namespace Service.Features.Integrations;

/// <summary>One message to an integration and its latest attempt. WebhookId is the header receivers deduplicate on.</summary>
public sealed record DeliveryResponse(
    Guid Id, string WebhookId, string EventType, string Status, int Attempts, int MaxAttempts, DateTimeOffset? NextAttemptAt,
    DateTimeOffset? LastAttemptAt, int? LastStatusCode, string? LastErrorClass, string? LastError, int? LatencyMs, string? ResponseExcerpt,
    DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt);

public sealed class DeliveryRow
{
    public const string Columns = """
        id, integration_id AS IntegrationId, event_type AS EventType, status, attempts, max_attempts AS MaxAttempts, next_attempt_at AS NextAttemptAt,
        last_attempt_at AS LastAttemptAt, last_status_code AS LastStatusCode, last_error_class AS LastErrorClass, last_error AS LastError,
        last_latency_ms AS LatencyMs, last_response_excerpt AS ResponseExcerpt, created_at AS CreatedAt, completed_at AS CompletedAt
        """;

    public Guid Id { get; init; }
    public Guid IntegrationId { get; init; }
    public string EventType { get; init; } = "";
    public string Status { get; init; } = "";
    public int Attempts { get; init; }
    public int MaxAttempts { get; init; }
    public DateTime NextAttemptAt { get; init; }
    public DateTime? LastAttemptAt { get; init; }
    public int? LastStatusCode { get; init; }
    public string? LastErrorClass { get; init; }
    public string? LastError { get; init; }
    public int? LatencyMs { get; init; }
    public string? ResponseExcerpt { get; init; }
    public DateTime CreatedAt { get; init; }
    public DateTime? CompletedAt { get; init; }

    public DeliveryResponse ToResponse() => new(
        Id, $"msg_{Id:N}", EventType, Status, Attempts, MaxAttempts, Status == "pending" ? NextAttemptAt.AsUtc() : null, LastAttemptAt.AsUtc(), LastStatusCode,
        LastErrorClass, LastError, LatencyMs, ResponseExcerpt, CreatedAt.AsUtc(), CompletedAt.AsUtc());
}
