namespace Service.Infrastructure.Privacy;

public static class PrivacyRegistration
{
    public static IServiceCollection AddPrivacy(this IServiceCollection services) => services.AddSingleton<PrivacyPolicies>();
}
