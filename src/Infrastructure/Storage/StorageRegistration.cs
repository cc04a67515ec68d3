using Amazon.S3;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Storage;

public static class StorageRegistration
{
    public static IServiceCollection AddStorage(this IServiceCollection services)
    {
        services.AddValidatedOptions<StorageOptions>(StorageOptions.Section);
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddSingleton<IAmazonS3>(sp => sp.GetRequiredService<IOptions<StorageOptions>>().Value.CreateClient());
        services.AddSingleton<StorageCalls>();
        services.AddHealthChecks().AddCheck<S3HealthCheck>("s3", tags: ["ready"]);
        return services;
    }
}
