using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Events;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Privacy;
using Service.Infrastructure.Security;

namespace Service.Features.Privacy;

/// <summary>The whole policy: a field left out takes its default (GET shows them), so a PUT never depends on what was there.</summary>
/// <param name="PathMode">keep, home or hash_dirs.</param>
/// <param name="HashFileNames">Under hash_dirs, hash the file name too (its extension is kept).</param>
/// <param name="ExcludeGlobs">Events whose path matches one are dropped at intake and counted as excluded.</param>
/// <param name="DropMetadataKeys">Metadata properties removed at any depth, by name (case, '_', '-' and '.' ignored; suffixes match).</param>
/// <param name="RetentionDays">At most the service-wide retention (Events:RetentionDays); null keeps events that long.</param>
/// <param name="DepartedUserEvents">delete or anonymize a member's events when they delete their account.</param>
public sealed record UpdatePrivacyPolicyRequest(string? PathMode, bool? HashFileNames, IReadOnlyList<string?>? ExcludeGlobs,
    IReadOnlyList<string?>? DropMetadataKeys, int? RetentionDays, string? DepartedUserEvents);

public static class UpdatePrivacyPolicy
{
    public const int MaxBodyBytes = 64 * 1024;

    // The body is read here, up to the limit, so an oversized or malformed policy gets the same field-error answer as a wrong one.
    public static void Map(RouteGroupBuilder group) =>
        group.MapPut("/", Handle)
            .WithName("UpdatePrivacyPolicy")
            .WithSummary("Replace the organization's privacy policy (applies to events received after the change)")
            .RequireOrgRole(OrgRole.Admin)
            .Accepts<UpdatePrivacyPolicyRequest>("application/json")
            .WithMetadata(new DisableRequestSizeLimitAttribute())
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);

    public static async Task<Results<Ok<PrivacyPolicyResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, HttpRequest http, ClaimsPrincipal user, NpgsqlDataSource dataSource, PrivacyPolicies policies, AuditLog audit,
        IOptions<EventOptions> events, CancellationToken cancellationToken)
    {
        if (!http.HasJsonContentType())
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type", detail: "Send the policy as application/json.");
        }
        var errors = new Dictionary<string, string[]>();
        var request = await ReadAsync(http, errors, cancellationToken);
        var settings = request is null ? null : Validate(request, events.Value.RetentionDays, errors);
        if (settings is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        var userId = user.RequiredUserId();
        var (pathKey, pathKeyId) = policies.NewPathKey(orgId);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var before = await StoredPrivacyPolicy.FindAsync(connection, transaction, orgId, forUpdate: true, cancellationToken);
        var (version, updatedAt) = await connection.QuerySingleAsync<(int, DateTime)>(new CommandDefinition("""
            INSERT INTO privacy_policies (org_id, path_mode, hash_file_names, exclude_globs, drop_metadata_keys, retention_days, departed_user_events,
                                          path_key, path_key_id, updated_by)
            VALUES (@orgId, @PathMode, @HashFileNames, @ExcludeGlobs, @DropMetadataKeys, @RetentionDays, @DepartedUserEvents, @pathKey, @pathKeyId, @userId)
            ON CONFLICT (org_id) DO UPDATE SET
                path_mode = excluded.path_mode, hash_file_names = excluded.hash_file_names, exclude_globs = excluded.exclude_globs,
                drop_metadata_keys = excluded.drop_metadata_keys, retention_days = excluded.retention_days,
                departed_user_events = excluded.departed_user_events, version = privacy_policies.version + 1, updated_at = now(), updated_by = excluded.updated_by
            RETURNING version, updated_at
            """,
            new
            {
                orgId, settings.PathMode, settings.HashFileNames, ExcludeGlobs = settings.ExcludeGlobs.ToArray(), DropMetadataKeys = settings.DropMetadataKeys.ToArray(),
                settings.RetentionDays, settings.DepartedUserEvents, pathKey, pathKeyId, userId,
            }, transaction, cancellationToken: cancellationToken));
        await audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "privacy.updated", "organization", orgId.ToString(),
            new { before = before?.ToSettings() ?? PrivacySettings.Default, after = settings, version }), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(Policy.ToResponse(settings, version, updatedAt, events.Value.RetentionDays));
    }

    private static async Task<UpdatePrivacyPolicyRequest?> ReadAsync(HttpRequest http, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxBodyBytes + 1];
        var length = await http.Body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        if (length > MaxBodyBytes)
        {
            errors["body"] = [$"At most {MaxBodyBytes} bytes."];
            return null;
        }
        var body = buffer.AsMemory(0, length);
        try
        {
            JsonDocument.Parse(body).Dispose();
        }
        catch (JsonException)
        {
            errors["body"] = ["Not valid JSON."];
            return null;
        }
        try
        {
            var request = JsonSerializer.Deserialize<UpdatePrivacyPolicyRequest>(body.Span, JsonSerializerOptions.Web);
            if (request is null) errors["body"] = ["A policy object is required."];
            return request;
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "body";
            errors[field] = [field == "body" ? "Not a JSON policy object." : "Wrong type for this field."];
            return null;
        }
    }

    private static PrivacySettings? Validate(UpdatePrivacyPolicyRequest request, int serviceRetentionDays, Dictionary<string, string[]> errors)
    {
        if (request.PathMode is null || !PathModes.All.Contains(request.PathMode)) errors["pathMode"] = [$"One of {string.Join(", ", PathModes.All)}."];
        var departed = request.DepartedUserEvents ?? DepartedUserEvents.Delete;
        if (!DepartedUserEvents.All.Contains(departed)) errors["departedUserEvents"] = [$"One of {string.Join(", ", DepartedUserEvents.All)}."];
        if (request.RetentionDays is < 1 || request.RetentionDays > serviceRetentionDays)
        {
            errors["retentionDays"] = [$"From 1 to {serviceRetentionDays} days (the service keeps events at most {serviceRetentionDays} days), or null."];
        }

        var globs = request.ExcludeGlobs ?? PrivacySettings.DefaultExcludeGlobs;
        if (globs.Count > PrivacySettings.MaxGlobs) errors["excludeGlobs"] = [$"At most {PrivacySettings.MaxGlobs} globs."];
        else
        {
            for (var i = 0; i < globs.Count; i++)
            {
                if (ExclusionGlobs.Problem(globs[i]) is { } problem) errors[$"excludeGlobs[{i}]"] = [problem];
            }
        }
        var keys = request.DropMetadataKeys ?? PrivacySettings.DefaultDropMetadataKeys;
        if (keys.Count > PrivacySettings.MaxMetadataKeys) errors["dropMetadataKeys"] = [$"At most {PrivacySettings.MaxMetadataKeys} keys."];
        else
        {
            for (var i = 0; i < keys.Count; i++)
            {
                if (keys[i] is not { Length: > 0 and <= PrivacySettings.MaxMetadataKeyLength } key || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')
                    || PrivacySettings.NormalizeKey(key).Length == 0)
                {
                    errors[$"dropMetadataKeys[{i}]"] = [$"1 to {PrivacySettings.MaxMetadataKeyLength} letters, digits, '_', '-' or '.'."];
                }
            }
        }
        if (errors.Count > 0) return null;
        return new PrivacySettings(request.PathMode!, request.HashFileNames ?? false, globs.Select(g => g!).Distinct().ToArray(),
            keys.Select(k => k!).Distinct(StringComparer.OrdinalIgnoreCase).ToArray(), request.RetentionDays, departed);
    }
}
