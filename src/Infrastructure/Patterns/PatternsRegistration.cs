using Service.Infrastructure.Caching;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Patterns;

public static class PatternsRegistration
{
    /// <summary>The detector every instance runs, and the cache of organization reads it invalidates.</summary>
    public static IServiceCollection AddPatternDetection(this IServiceCollection services)
    {
        services.AddValidatedOptions<PatternOptions>(PatternOptions.Section);
        services.AddSingleton<OrgReadCache>();
        services.AddSingleton<SuggestionWriter>();
        services.AddSingleton<PatternDetection>();
        services.AddHostedService<PatternDetector>();
        return services;
    }
}
