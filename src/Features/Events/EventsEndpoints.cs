using Service.Infrastructure.Events;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.RateLimiting;
using Service.Infrastructure.Settings;

namespace Service.Features.Events;

/// <summary>File-usage events of an organization: agents and members push batches; members and viewers query.</summary>
public static class EventsEndpoints
{
    public static IServiceCollection AddEvents(this IServiceCollection services)
    {
        services.AddValidatedOptions<EventOptions>(EventOptions.Section);
        services.AddHostedService<PurgeExpiredEvents>();
        return services;
    }

    public static IEndpointRouteBuilder MapEvents(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/orgs/{orgId:guid}/events").WithTags("Events");
        IngestEvents.Map(group);
        ListEvents.Map(group);
        return app;
    }
}

