using Dapper;
using Npgsql;
using Service.Infrastructure.Http;
using Service.Infrastructure.Security;

namespace Service.Features.Uploads;

public sealed record ListUploadsQuery(string? Status, Guid? UploaderId, string? Cursor, int? Limit);

public sealed record UploadPage(IReadOnlyList<UploadResponse> Items, string? NextCursor);

/// <summary>An organization's uploads, newest first, in pages linked by an opaque cursor.</summary>
public static class ListUploads
{
    private static readonly string[] Statuses = ["pending", "ready", "deleted"];

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("ListUploads")
            .WithSummary("List an organization's uploads")
            .RequireOrgRole(OrgRole.Viewer);

    public static async Task<Results<Ok<UploadPage>, ValidationProblem>> Handle(
        Guid orgId, [AsParameters] ListUploadsQuery query, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (query.Status is not null && !Statuses.Contains(query.Status)) errors["status"] = [$"One of {string.Join(", ", Statuses)}."];
        var paging = PageRequest.Read(query.Cursor, query.Limit, errors);
        if (paging is null || errors.Count > 0) return TypedResults.ValidationProblem(errors);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<UploadRow>(new CommandDefinition($"""
            SELECT {UploadRow.Columns} FROM uploads
            WHERE org_id = @orgId
              AND (@Status::text IS NULL AND status <> 'deleted' OR status = @Status)
              AND (@UploaderId::uuid IS NULL OR uploader_id = @UploaderId)
              AND (@AfterAt::timestamptz IS NULL OR (created_at, id) < (@AfterAt, @AfterId))
            ORDER BY created_at DESC, id DESC
            LIMIT @Take
            """,
            new { orgId, query.Status, query.UploaderId, paging.AfterAt, paging.AfterId, paging.Take },
            cancellationToken: cancellationToken))).ToList();

        var (page, next) = paging.Split(rows, r => (r.CreatedAt, r.Id));
        return TypedResults.Ok(new UploadPage(page.Select(r => r.ToResponse()).ToList(), next));
    }
}
