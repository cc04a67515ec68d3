using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Integrations;

public static class IntegrationsRegistration
{
    /// <summary>Outbound calls to integrations and the delivery pipeline every instance runs.</summary>
    public static IServiceCollection AddIntegrationDelivery(this IServiceCollection services)
    {
        services.AddValidatedOptions<IntegrationOptions>(IntegrationOptions.Section);
        services.AddSingleton<IValidateOptions<IntegrationOptions>, IntegrationOptionsValidator>();
        services.AddSingleton<OutboundAddressPolicy>();
        services.TryAddSingleton<IOutboundResolver, SystemResolver>();
        services.AddSingleton<OutboundConnector>();
        services.AddSingleton<OutboundUrlRules>();
        services.AddOutboundHttp();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookOutbox>();
        services.AddSingleton<DeliveryAttempts>();
        services.AddHostedService<DeliveryWorker>();
        return services;
    }
}
