using System.Security.Claims;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;

namespace Service.Features.Suggestions;

/// <summary>Dismisses a suggestion for good: its pattern's fingerprint is never suggested again, however often it recurs.</summary>
public static class DismissSuggestion
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{suggestionId:guid}/dismiss", Handle)
            .WithName("DismissSuggestion")
            .WithSummary("Dismiss a suggestion (never suggested again)")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Ok<SuggestionResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid suggestionId, ClaimsPrincipal user, [AsParameters] SuggestionServices services, CancellationToken cancellationToken)
    {
        var userId = user.RequiredUserId();
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await SuggestionRow.FindAsync(connection, orgId, suggestionId, transaction, forUpdate: true, cancellationToken) is not { } row) return SuggestionProblems.NotFound();
        if (row.Status == SuggestionStatuses.Dismissed) return TypedResults.Ok(row.ToResponse());
        if (row.Status == SuggestionStatuses.Accepted) return SuggestionProblems.Decided(row);
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE suggestions SET status = 'dismissed', decided_by = @userId, decided_at = now(), snoozed_until = NULL, updated_at = now() WHERE id = @suggestionId
            """, new { userId, suggestionId }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "suggestion.dismissed", "suggestion",
            suggestionId.ToString(), new { kind = row.Kind }), cancellationToken);
        var updated = (await SuggestionRow.FindAsync(connection, orgId, suggestionId, transaction, forUpdate: false, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        await services.Cache.InvalidateAsync(orgId, cancellationToken);
        return TypedResults.Ok(updated.ToResponse());
    }
}
