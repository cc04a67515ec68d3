using System.ComponentModel.DataAnnotations;
using System.Text;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Security;

public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>The value shipped in .env.example; a production instance must never run with it.</summary>
    public const string PlaceholderSecretKey = "replace-me-with-at-least-32-random-bytes-base64";

    /// <summary>The key in appsettings.Development.json; equally public, so equally refused in Production.</summary>
    public const string DevelopmentSecretKey = "development-only-secret-key-do-not-use-in-production";

    public const int MinimumSecretKeyBytes = 32;

    /// <summary>Signs access tokens (HS256). Required in Production.</summary>
    public string? SecretKey { get; set; }
}

public sealed class SecurityOptionsValidator(IHostEnvironment environment) : IValidateOptions<SecurityOptions>
{
    private static readonly string Setting = FlatSettingNames.Describe("Security:SecretKey");
    private const string Fix = "set SECRET_KEY to a random value of at least 32 bytes, e.g. `openssl rand -base64 48`, kept in your secret store.";

    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var key = options.SecretKey;
        if (!environment.IsProduction()) return ValidateOptionsResult.Success;
        if (string.IsNullOrWhiteSpace(key)) return Fail("is missing; Production requires a signing key.");
        if (key is SecurityOptions.PlaceholderSecretKey or SecurityOptions.DevelopmentSecretKey)
        {
            return Fail("is the public placeholder shipped with the project; anyone could forge tokens with it.");
        }
        var bytes = Encoding.UTF8.GetByteCount(key);
        if (bytes < SecurityOptions.MinimumSecretKeyBytes)
        {
            return Fail($"is {bytes} bytes long; Production requires at least {SecurityOptions.MinimumSecretKeyBytes} bytes.");
        }
        return ValidateOptionsResult.Success;
    }

    private static ValidateOptionsResult Fail(string rule) => ValidateOptionsResult.Fail(new StartupProblem(Setting, rule, Fix).ToString());
}
