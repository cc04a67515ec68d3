using System.Text;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Secrets;

/// <summary>The keys that encrypt secrets at rest (integration signing secrets, Slack URLs, header values).</summary>
public sealed class EncryptionOptions
{
    public const string Section = "Encryption";
    public const string PlaceholderKey = "replace-me-with-another-32-random-bytes-base64";
    public const string DevelopmentKey = "development-only-encryption-key-do-not-use-in-production";
    public const int MinimumKeyBytes = 32;

    /// <summary>Encrypts every new secret. ENCRYPTION_KEY.</summary>
    public string? Key { get; set; }

    /// <summary>Earlier keys, comma-separated, still accepted for decryption until `secrets rotate` has run. ENCRYPTION_KEYS_OLD.</summary>
    public string? OldKeys { get; set; }

    public IEnumerable<string> OldKeyList => SettingLists.Split(OldKeys ?? "");
}

public sealed class EncryptionOptionsValidator(IHostEnvironment environment, IConfiguration configuration) : IValidateOptions<EncryptionOptions>
{
    private static readonly string KeySetting = FlatSettingNames.Describe("Encryption:Key");
    private static readonly string OldKeysSetting = FlatSettingNames.Describe("Encryption:OldKeys");
    private const string Fix = "set ENCRYPTION_KEY to its own random value of at least 32 bytes, e.g. `openssl rand -base64 48`, kept in your secret store; " +
                               "when replacing a key, move the previous one to ENCRYPTION_KEYS_OLD and run `secrets rotate`.";

    public ValidateOptionsResult Validate(string? name, EncryptionOptions options)
    {
        var problems = new List<string>();
        var key = options.Key;
        if (string.IsNullOrWhiteSpace(key))
        {
            problems.Add(Problem(KeySetting, "is missing; secrets at rest cannot be encrypted without it."));
        }
        else
        {
            var bytes = Encoding.UTF8.GetByteCount(key);
            if (bytes < EncryptionOptions.MinimumKeyBytes) problems.Add(Problem(KeySetting, $"is {bytes} bytes long; at least {EncryptionOptions.MinimumKeyBytes} bytes are required."));
            if (environment.IsProduction())
            {
                if (key is EncryptionOptions.PlaceholderKey or EncryptionOptions.DevelopmentKey)
                {
                    problems.Add(Problem(KeySetting, "is the public placeholder shipped with the project; anyone could decrypt the secrets with it."));
                }
                if (key == configuration[$"{SecurityOptions.Section}:SecretKey"])
                {
                    problems.Add(Problem(KeySetting, "equals SECRET_KEY; one leaked value must not both forge tokens and decrypt secrets."));
                }
            }
        }
        foreach (var old in options.OldKeyList)
        {
            if (Encoding.UTF8.GetByteCount(old) < EncryptionOptions.MinimumKeyBytes)
            {
                problems.Add(Problem(OldKeysSetting, $"holds a key shorter than {EncryptionOptions.MinimumKeyBytes} bytes; it cannot be one this service encrypted with."));
            }
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static string Problem(string setting, string rule) => new StartupProblem(setting, rule, Fix).ToString();
}
