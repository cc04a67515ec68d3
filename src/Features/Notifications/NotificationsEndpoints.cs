using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;

namespace Service.Features.Notifications;

/// <summary>
/// The caller's own notifications; another user's answer 404 like unknown ones. Slices create them through
/// Infrastructure/Notifications/Notifier, in the transaction of the change they report.
/// </summary>
public static class NotificationsEndpoints
{
    public static IServiceCollection AddNotifications(this IServiceCollection services)
    {
        services.AddValidatedOptions<NotificationOptions>(NotificationOptions.Section);
        services.AddHostedService<PruneNotifications>();
        return services;
    }

    public static IEndpointRouteBuilder MapNotifications(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/notifications").WithTags("Notifications").RequireAuthorization(AuthPolicies.User);
        ListNotifications.Map(group);
        CountUnreadNotifications.Map(group);
        ReadAllNotifications.Map(group);
        ReadNotification.Map(group);
        DeleteNotification.Map(group);
        return app;
    }
}
