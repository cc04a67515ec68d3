using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Patterns;

namespace Service.Features.Patterns;

/// <param name="Status">idle (never ran), queued (asked for, not started), running, succeeded or failed.</param>
/// <param name="Stats">The last run's figures: events read, sessions closed and mined, patterns, new suggestions, seconds.</param>
public sealed record DetectionResponse(string Status, DateTimeOffset? RequestedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt,
    DateTimeOffset? Watermark, string? Error, DetectionStats? Stats);

/// <summary>An organization's detection status, as asking for a run and polling it both answer it.</summary>
public static class Detection
{
    public static async Task<DetectionResponse> ReadAsync(NpgsqlConnection connection, Guid orgId, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<StateRow>(new CommandDefinition("""
            SELECT status, requested_at AS RequestedAt, started_at AS StartedAt, finished_at AS FinishedAt,
                   CASE WHEN watermark = '-infinity' THEN NULL ELSE watermark END AS Watermark, error, stats::text AS Stats
            FROM pattern_state WHERE org_id = @orgId
            """, new { orgId }, cancellationToken: cancellationToken));
        if (row is null) return new DetectionResponse("idle", null, null, null, null, null, null);
        // Asked for after the last run started: it waits for the detector (within seconds).
        var status = row.RequestedAt is not null && row.Status != "running" ? "queued" : row.Status;
        return new DetectionResponse(status, Utc(row.RequestedAt), Utc(row.StartedAt), Utc(row.FinishedAt), Utc(row.Watermark), row.Error,
            row.Stats is null ? null : JsonSerializer.Deserialize<DetectionStats>(row.Stats, JsonSerializerOptions.Web));
    }

    private static DateTimeOffset? Utc(DateTime? at) => at is { } value ? new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc)) : null;

    private sealed class StateRow
    {
        public string Status { get; init; } = "idle";
        public DateTime? RequestedAt { get; init; }
        public DateTime? StartedAt { get; init; }
        public DateTime? FinishedAt { get; init; }
        public DateTime? Watermark { get; init; }
        public string? Error { get; init; }
        public string? Stats { get; init; }
    }
}
