using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Secrets;

public static class SecretsRegistration
{
    public static IServiceCollection AddSecrets(this IServiceCollection services)
    {
        services.AddValidatedOptions<EncryptionOptions>(EncryptionOptions.Section);
        services.AddSingleton<IValidateOptions<EncryptionOptions>, EncryptionOptionsValidator>();
        services.AddSingleton<SecretBox>();
        return services;
    }
}
