using System.Globalization;
using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Suggestions;

/// <param name="Until">RFC 3339, in the future and at most a year ahead; the suggestion reads as new again from then.</param>
public sealed record SnoozeSuggestionRequest(string? Until);

/// <summary>Hides a suggestion until a date; snoozing again moves the date.</summary>
public static class SnoozeSuggestion
{
    public static readonly TimeSpan MaxSnooze = TimeSpan.FromDays(365);

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{suggestionId:guid}/snooze", Handle)
            .WithName("SnoozeSuggestion")
            .WithSummary("Snooze a suggestion until a date")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Ok<SuggestionResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid suggestionId, SnoozeSuggestionRequest request, ClaimsPrincipal user, [AsParameters] SuggestionServices services,
        CancellationToken cancellationToken)
    {
        var now = services.Time.GetUtcNow();
        if (request.Until is null || !DateTimeOffset.TryParse(request.Until, CultureInfo.InvariantCulture, DateTimeStyles.None, out var until)
            || until <= now || until > now + MaxSnooze)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["until"] = ["An RFC 3339 time in the future, at most 365 days ahead."] });
        }
        var userId = user.RequiredUserId();
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await SuggestionRow.FindAsync(connection, orgId, suggestionId, transaction, forUpdate: true, cancellationToken) is not { } row) return SuggestionProblems.NotFound();
        if (row.Status is SuggestionStatuses.Accepted or SuggestionStatuses.Dismissed) return SuggestionProblems.Decided(row);
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE suggestions SET status = 'snoozed', snoozed_until = @until, decided_by = @userId, decided_at = now(), updated_at = now() WHERE id = @suggestionId
            """, new { until = until.UtcDateTime, userId, suggestionId }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "suggestion.snoozed", "suggestion",
            suggestionId.ToString(), new { until = until.UtcDateTime }), cancellationToken);
        var updated = (await SuggestionRow.FindAsync(connection, orgId, suggestionId, transaction, forUpdate: false, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        await services.Cache.InvalidateAsync(orgId, cancellationToken);
        return TypedResults.Ok(updated.ToResponse());
    }
}
