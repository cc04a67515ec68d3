using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Security;

namespace Service.Features.LiveStream;

/// <summary>
/// The live stream and its tickets, for signed-in users (not agent keys), behind the LiveStream kill switch (off:
/// 503 here, and the hub closes the streams already open). The hub, slots and publisher it relies on are in
/// Infrastructure/Streaming, shared with every slice that publishes events.
/// </summary>
public static class LiveStreamEndpoints
{
    public static IServiceCollection AddLiveStream(this IServiceCollection services)
    {
        services.AddHostedService<PruneStreamLog>();
        return services;
    }

    public static IEndpointRouteBuilder MapLiveStream(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(StreamTicketAuthenticationHandler.StreamPath).WithTags("Stream")
            .RequireAuthorization(AuthPolicies.User)
            .RequireFeature(FeatureFlagCatalog.LiveStream);
        OpenStream.Map(group);
        CreateStreamTicket.Map(group);
        return app;
    }
}
