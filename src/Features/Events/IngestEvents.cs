using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Service.Infrastructure.Events;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Privacy;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Events;

public sealed record IngestEventsRequest(IReadOnlyList<IngestEventItem?>? Events);

/// <param name="OccurredAt">RFC 3339 with an offset, e.g. 2026-11-22T09:30:00.123Z.</param>
/// <param name="Metadata">A JSON object of at most 4 KiB; <c>uploadIds</c>, when present, lists uploads of the organization.</param>
/// <param name="ClientEventId">The agent's own id: an event re-sent with the same id from the same source is stored once.</param>
public sealed record IngestEventItem(string? Type, string? OccurredAt, string? Path, string? Tool, long? DurationMs, JsonElement? Metadata, string? ClientEventId);

/// <param name="Excluded">Events the organization's privacy policy dropped before storing anything of them (an excluded path, or older than it keeps events).</param>
public sealed record IngestEventsResponse(int Inserted, int Duplicates, int Excluded);

/// <summary>
/// A batch of events, all or nothing: every item is validated first (400 lists each problem by index), then the
/// organization's privacy policy drops excluded events and rewrites paths and metadata, then one
/// INSERT ... ON CONFLICT DO NOTHING stores the batch; 201 only after the commit. With an Idempotency-Key the
/// response is stored in the same transaction and replayed for 24 hours (the key record holds a SHA-256 of the
/// request and the counts, nothing of an event).
/// </summary>
public static partial class IngestEvents
{
    // Sized for the largest batch: 1,000 items of a 1,024-character path and 4 KiB of metadata, with JSON escaping.
    public const long MaxBodyBytes = 8 * 1024 * 1024;
    public const int MaxPathLength = 1024;
    // Hashed directories are 17 characters each; a btree entry must stay under ~2.7 KB (about 110 hashed directories).
    public const int MaxStoredPathLength = 2000;
    public const int MaxToolLength = 200;
    public const int MaxClientEventIdLength = 128;
    public const int MaxMetadataBytes = 4096;
    public static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan IdempotencyWindow = TimeSpan.FromHours(24);

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("IngestEvents")
            .WithSummary("Ingest a batch of file-usage events")
            .RequireAuthorization(AuthPolicies.OrgIngest)
            .RequireRateLimit(RateLimitPolicies.Ingest)
            .RequireFeature(FeatureFlagCatalog.EventIngest)
            .WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxBodyBytes))
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);

    public static async Task<Results<Created<IngestEventsResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, IngestEventsRequest request, HttpContext context, ClaimsPrincipal user, NpgsqlDataSource dataSource,
        IOptions<EventOptions> options, PrivacyPolicies privacy, TimeProvider time, CancellationToken cancellationToken)
    {
        var idempotencyKey = context.Request.Headers["Idempotency-Key"].ToString();
        var errors = new Dictionary<string, string[]>();
        if (idempotencyKey.Length > 0 && !IdempotencyKeyFormat().IsMatch(idempotencyKey))
        {
            errors["Idempotency-Key"] = ["1 to 255 visible ASCII characters."];
        }
        var events = Validate(request, options.Value, time.GetUtcNow(), errors, out var uploadIds);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (errors.Count == 0 && uploadIds.Count > 0) await CheckUploadsAsync(connection, orgId, uploadIds, errors, cancellationToken);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);
        var policy = await privacy.GetAsync(connection, null, orgId, cancellationToken);
        var stored = Apply(policy, events, time.GetUtcNow().UtcDateTime, errors);
        if (errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var (sourceType, sourceId) = user.Caller();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        string? requestHash = null;
        if (idempotencyKey.Length > 0)
        {
            requestHash = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(request)));
            // A concurrent request with the same key blocks on this insert until the first one commits, then replays it.
            // An expired key is taken over as if it were new.
            var claimed = await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO idempotency_keys (org_id, caller_id, key, request_hash, status_code, response, expires_at)
                VALUES (@orgId, @sourceId, @idempotencyKey, @requestHash, 0, 'null', now() + @IdempotencyWindow)
                ON CONFLICT (org_id, caller_id, key) DO UPDATE
                    SET request_hash = excluded.request_hash, status_code = 0, response = 'null', created_at = now(), expires_at = excluded.expires_at
                    WHERE idempotency_keys.expires_at <= now()
                """, new { orgId, sourceId, idempotencyKey, requestHash, IdempotencyWindow }, transaction, cancellationToken: cancellationToken));
            if (claimed == 0) return await ReplayAsync(connection, transaction, orgId, sourceId, idempotencyKey, requestHash, context.Response, cancellationToken);
        }

        var inserted = stored.Count == 0 ? 0 : await InsertAsync(connection, transaction, orgId, sourceType, sourceId, stored, cancellationToken);
        if (inserted > 0) await EventTriggers.HandOverAsync(connection, transaction, orgId, stored.Select(e => e.Id).ToArray(), cancellationToken);
        var response = new IngestEventsResponse(inserted, stored.Count - inserted, events.Count - stored.Count);
        if (requestHash is not null)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE idempotency_keys SET status_code = 201, response = @Response::jsonb WHERE org_id = @orgId AND caller_id = @sourceId AND key = @idempotencyKey",
                new { Response = JsonSerializer.Serialize(response, JsonSerializerOptions.Web), orgId, sourceId, idempotencyKey }, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
        ServiceDiagnostics.Ingested(inserted);
        return TypedResults.Created((string?)null, response);
    }

    /// <summary>
    /// What the policy lets through, in the form it is stored: excluded events leave no trace beyond the count. A path
    /// that hashing makes too long for the path index (very many directories) is refused like any invalid path.
    /// </summary>
    private static List<ValidEvent> Apply(PrivacyPolicy policy, List<ValidEvent> events, DateTime now, Dictionary<string, string[]> errors)
    {
        var stored = new List<ValidEvent>(events.Count);
        for (var i = 0; i < events.Count; i++) // every item was valid, so i is its index in the request
        {
            var e = events[i];
            if (policy.Excludes(e.Path, e.OccurredAt, now)) continue;
            var path = policy.StoredPath(e.Path);
            if (path.Length > MaxStoredPathLength)
            {
                errors[$"events[{i}].path"] = [$"Too many directories for this organization's path mode: stored, it would exceed {MaxStoredPathLength} characters."];
                continue;
            }
            stored.Add(e with { Path = path, Metadata = policy.StoredMetadata(e.Metadata) });
        }
        return stored;
    }

    private sealed record ValidEvent(Guid Id, string Type, DateTime OccurredAt, string Path, string? Tool, long? DurationMs, string? Metadata, string? ClientEventId);

    private static List<ValidEvent> Validate(IngestEventsRequest request, EventOptions options, DateTimeOffset now,
        Dictionary<string, string[]> errors, out Dictionary<Guid, List<string>> uploadIds)
    {
        uploadIds = [];
        var valid = new List<ValidEvent>();
        if (request.Events is not { Count: > 0 } items || items.Count > options.MaxBatchSize)
        {
            errors["events"] = [$"Send 1 to {options.MaxBatchSize} events."];
            return valid;
        }
        var oldest = now - TimeSpan.FromDays(options.RetentionDays);
        for (var i = 0; i < items.Count; i++)
        {
            var prefix = $"events[{i}]";
            if (items[i] is not { } item)
            {
                errors[prefix] = ["Must be an event object."];
                continue;
            }
            var before = errors.Count;
            if (item.Type is null || !EventTypes.All.Contains(item.Type)) errors[$"{prefix}.type"] = [$"One of {string.Join(", ", EventTypes.All)}."];

            DateTimeOffset occurredAt = default;
            if (item.OccurredAt is null || !Rfc3339().IsMatch(item.OccurredAt)
                || !DateTimeOffset.TryParse(item.OccurredAt, CultureInfo.InvariantCulture, DateTimeStyles.None, out occurredAt))
            {
                errors[$"{prefix}.occurredAt"] = ["An RFC 3339 timestamp with an offset, e.g. 2026-11-22T09:30:00Z."];
            }
            else if (occurredAt > now + FutureTolerance) errors[$"{prefix}.occurredAt"] = ["Must not be more than 5 minutes in the future."];
            else if (occurredAt < oldest) errors[$"{prefix}.occurredAt"] = [$"Older than the {options.RetentionDays}-day retention window."];

            if (string.IsNullOrEmpty(item.Path) || item.Path.Length > MaxPathLength || HasControlCharacters(item.Path))
            {
                errors[$"{prefix}.path"] = [$"1 to {MaxPathLength} characters, no control characters."];
            }
            if (item.Tool is not null && (item.Tool.Length is 0 or > MaxToolLength || HasControlCharacters(item.Tool)))
            {
                errors[$"{prefix}.tool"] = [$"1 to {MaxToolLength} characters, no control characters."];
            }
            if (item.DurationMs is < 0) errors[$"{prefix}.durationMs"] = ["Must not be negative."];
            if (item.ClientEventId is not null && (item.ClientEventId.Length is 0 or > MaxClientEventIdLength || HasControlCharacters(item.ClientEventId)))
            {
                errors[$"{prefix}.clientEventId"] = [$"1 to {MaxClientEventIdLength} characters, no control characters."];
            }
            var metadata = ValidateMetadata(item.Metadata, $"{prefix}.metadata", errors, uploadIds);
            if (errors.Count == before)
            {
                valid.Add(new ValidEvent(Guid.CreateVersion7(), item.Type!, occurredAt.UtcDateTime, item.Path!, item.Tool, item.DurationMs, metadata, item.ClientEventId));
            }
        }
        return valid;
    }

    private static string? ValidateMetadata(JsonElement? metadata, string field, Dictionary<string, string[]> errors, Dictionary<Guid, List<string>> uploadIds)
    {
        if (metadata is not { } value || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Object)
        {
            errors[field] = ["Must be a JSON object."];
            return null;
        }
        var text = value.GetRawText();
        if (System.Text.Encoding.UTF8.GetByteCount(text) > MaxMetadataBytes)
        {
            errors[field] = [$"At most {MaxMetadataBytes} bytes of JSON."];
            return null;
        }
        // PostgreSQL's jsonb cannot store the NUL character.
        if (text.Contains("\\u0000", StringComparison.OrdinalIgnoreCase))
        {
            errors[field] = ["Must not contain the NUL character (\\u0000)."];
            return null;
        }
        if (value.TryGetProperty("uploadIds", out var ids))
        {
            if (ids.ValueKind != JsonValueKind.Array)
            {
                errors[$"{field}.uploadIds"] = ["An array of upload ids."];
                return null;
            }
            var index = 0;
            foreach (var id in ids.EnumerateArray())
            {
                var path = $"{field}.uploadIds[{index++}]";
                if (id.ValueKind == JsonValueKind.String && Guid.TryParse(id.GetString(), out var uploadId))
                {
                    if (!uploadIds.TryGetValue(uploadId, out var fields)) uploadIds[uploadId] = fields = [];
                    fields.Add(path);
                }
                else errors[path] = ["Not an upload id."];
            }
        }
        return text;
    }

    private static async Task CheckUploadsAsync(NpgsqlConnection connection, Guid orgId, Dictionary<Guid, List<string>> uploadIds,
        Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        var found = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT id FROM uploads WHERE org_id = @orgId AND id = ANY(@ids) AND status <> 'deleted'",
            new { orgId, ids = uploadIds.Keys.ToArray() }, cancellationToken: cancellationToken))).ToHashSet();
        foreach (var (id, fields) in uploadIds)
        {
            if (found.Contains(id)) continue;
            foreach (var field in fields) errors[field] = ["No upload with this id in the organization."];
        }
    }

    /// <summary>One statement for the whole batch; a conflicting clientEventId (also within the batch) is skipped.</summary>
    private static async Task<int> InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, string sourceType, Guid sourceId,
        List<ValidEvent> events, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO events (id, org_id, source_type, source_id, type, occurred_at, path, tool, duration_ms, metadata, client_event_id)
            SELECT e.id, $1, $2, $3, e.type, e.occurred_at, e.path, e.tool, e.duration_ms, e.metadata, e.client_event_id
            FROM unnest($4::uuid[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[], $10::jsonb[], $11::text[])
                AS e(id, type, occurred_at, path, tool, duration_ms, metadata, client_event_id)
            ON CONFLICT (org_id, source_id, client_event_id) WHERE client_event_id IS NOT NULL DO NOTHING
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orgId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = sourceType });
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sourceId });
        command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = events.Select(e => e.Id).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Type).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = events.Select(e => e.OccurredAt).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = events.Select(e => e.Path).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = events.Select(e => e.Tool).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = events.Select(e => e.DurationMs).ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = events.Select(e => e.Metadata).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = events.Select(e => e.ClientEventId).ToArray() });
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<Results<Created<IngestEventsResponse>, ValidationProblem, ProblemHttpResult>> ReplayAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, Guid sourceId, string key, string requestHash,
        HttpResponse response, CancellationToken cancellationToken)
    {
        var stored = await connection.QuerySingleAsync<(string RequestHash, string Response)>(new CommandDefinition(
            "SELECT request_hash, response::text FROM idempotency_keys WHERE org_id = @orgId AND caller_id = @sourceId AND key = @key",
            new { orgId, sourceId, key }, transaction, cancellationToken: cancellationToken));
        await transaction.RollbackAsync(cancellationToken);
        if (stored.RequestHash != requestHash)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Idempotency-Key reused",
                detail: "This Idempotency-Key was used for a different batch in the last 24 hours. Use a new key for new events.");
        }
        response.Headers["Idempotent-Replayed"] = "true";
        return TypedResults.Created((string?)null, JsonSerializer.Deserialize<IngestEventsResponse>(stored.Response, JsonSerializerOptions.Web));
    }

    private static bool HasControlCharacters(string value) => value.AsSpan().ContainsAnyInRange('\u0000', '\u001f') || value.Contains('\u007f');

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex Rfc3339();

    [GeneratedRegex(@"^[\x21-\x7E]{1,255}$")]
    private static partial Regex IdempotencyKeyFormat();
}
