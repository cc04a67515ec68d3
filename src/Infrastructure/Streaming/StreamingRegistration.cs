using Service.Infrastructure.Notifications;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Streaming;

public static class StreamingRegistration
{
    /// <summary>The live stream's hub (one Redis subscription per instance), stream slots, the publisher, the outbox of organization events and the notifier.</summary>
    public static IServiceCollection AddStreaming(this IServiceCollection services)
    {
        services.AddValidatedOptions<StreamOptions>(StreamOptions.Section);
        services.AddSingleton<StreamSlots>();
        services.AddSingleton<StreamHub>();
        services.AddHostedService(sp => sp.GetRequiredService<StreamHub>());
        services.AddSingleton<StreamPublisher>();
        services.AddSingleton<StreamOutbox>();
        services.AddHostedService(sp => sp.GetRequiredService<StreamOutbox>());
        services.AddSingleton<Notifier>();
        return services;
    }
}
