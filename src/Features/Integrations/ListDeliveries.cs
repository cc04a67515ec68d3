using Dapper;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Integrations;

public sealed record ListDeliveriesQuery(string? Status, string? Cursor, int? Limit);

/// <summary>The delivery log of one integration, newest first: status, attempts, the last answer and error.</summary>
public static class ListDeliveries
{
    private static readonly string[] Statuses = ["pending", "delivered", "failed"];

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/{integrationId:guid}/deliveries", Handle)
            .WithName("ListDeliveries")
            .WithSummary("List an integration's deliveries")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Ok<Page<DeliveryResponse>>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid integrationId, [AsParameters] ListDeliveriesQuery query, [AsParameters] IntegrationServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (query.Status is not null && !Statuses.Contains(query.Status)) errors["status"] = [$"One of {string.Join(", ", Statuses)}."];
        var page = PageRequest.Read(query.Cursor, query.Limit, errors);
        if (page is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        var exists = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM integrations WHERE id = @integrationId AND org_id = @orgId)", new { integrationId, orgId }, cancellationToken: cancellationToken));
        if (!exists) return IntegrationProblems.NotFound();
        var rows = (await connection.QueryAsync<DeliveryRow>(new CommandDefinition($"""
            SELECT {DeliveryRow.Columns} FROM webhook_deliveries
            WHERE integration_id = @integrationId AND org_id = @orgId
              AND (@Status::text IS NULL OR status = @Status)
              AND (@AfterAt::timestamptz IS NULL OR (created_at, id) < (@AfterAt, @AfterId))
            ORDER BY created_at DESC, id DESC
            LIMIT @Take
            """, new { integrationId, orgId, query.Status, page.AfterAt, page.AfterId, page.Take }, cancellationToken: cancellationToken))).AsList();
        return TypedResults.Ok(page.ToPage(rows, r => (r.CreatedAt, r.Id), r => r.ToResponse()));
    }
}
