using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Suggestions;

public sealed record AcceptSuggestionResponse(Guid WorkflowId, SuggestionResponse Suggestion);

/// <summary>
/// Turns a suggestion into a disabled workflow draft, in one transaction with the suggestion's change: 201 with the
/// workflow's id and Location. The suggestion's row is locked first, so of two clients accepting at once one creates
/// the draft and the other gets 409 naming it.
/// </summary>
public static class AcceptSuggestion
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{suggestionId:guid}/accept", Handle)
            .WithName("AcceptSuggestion")
            .WithSummary("Accept a suggestion: create its workflow draft (disabled)")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Created<AcceptSuggestionResponse>, ProblemHttpResult>> Handle(
        Guid orgId, Guid suggestionId, ClaimsPrincipal user, [AsParameters] SuggestionServices services, CancellationToken cancellationToken)
    {
        var userId = user.RequiredUserId();
        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await SuggestionRow.FindAsync(connection, orgId, suggestionId, transaction, forUpdate: true, cancellationToken) is not { } row) return SuggestionProblems.NotFound();
        if (row.Status is not (SuggestionStatuses.New or SuggestionStatuses.Snoozed)) return SuggestionProblems.Decided(row);

        var errors = new Dictionary<string, string[]>();
        var compiled = WorkflowRules.Compile(JsonSerializer.Deserialize<WorkflowDefinition>(row.Draft, JsonSerializerOptions.Web), errors);
        if (compiled is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Suggestion's draft is not a valid workflow",
                detail: string.Join(" ", errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        }
        var workflowId = await WorkflowStore.InsertAsync(connection, transaction, orgId, compiled, userId, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE suggestions SET status = 'accepted', workflow_id = @workflowId, decided_by = @userId, decided_at = now(), snoozed_until = NULL, updated_at = now()
            WHERE id = @suggestionId
            """, new { workflowId, userId, suggestionId }, transaction, cancellationToken: cancellationToken));
        await services.Audit.WriteAsync(connection, transaction, new AuditEntry("user", userId.ToString(), orgId, "suggestion.accepted", "suggestion",
            suggestionId.ToString(), new { workflowId, kind = row.Kind }), cancellationToken);
        var updated = (await SuggestionRow.FindAsync(connection, orgId, suggestionId, transaction, forUpdate: false, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        await services.Cache.InvalidateAsync(orgId, cancellationToken);
        return TypedResults.Created($"/api/v1/orgs/{orgId}/workflows/{workflowId}", new AcceptSuggestionResponse(workflowId, updated.ToResponse()));
    }
}
