using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Events;
using Service.Infrastructure.Privacy;
using Service.Infrastructure.Security;

namespace Service.Features.Privacy;

public static class GetPrivacyPolicy
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("GetPrivacyPolicy")
            .WithSummary("Get the organization's privacy policy (the defaults until an admin writes one)")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Ok<PrivacyPolicyResponse>> Handle(Guid orgId, NpgsqlDataSource dataSource, IOptions<EventOptions> events, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await StoredPrivacyPolicy.FindAsync(connection, null, orgId, forUpdate: false, cancellationToken);
        return TypedResults.Ok(row is null
            ? Policy.ToResponse(PrivacySettings.Default, 0, null, events.Value.RetentionDays)
            : Policy.ToResponse(row.ToSettings(), row.Version, row.UpdatedAt, events.Value.RetentionDays));
    }
}
