using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Http;

public sealed class CorsPolicyOptions
{
    public const string Section = "Cors";

    /// <summary>Comma-separated absolute origins allowed to call the API from a browser (CORS_ORIGINS).</summary>
    public string Origins { get; set; } = "";

    /// <summary>Seconds a browser may cache a preflight answer.</summary>
    public int PreflightMaxAgeSeconds { get; set; } = 600;

    public IReadOnlyList<string> AllowedOrigins =>
        SettingLists.Split(Origins)
            .Select(o => o.TrimEnd('/'))
            .ToArray();
}

public sealed class CorsPolicyOptionsValidator(IHostEnvironment environment) : IValidateOptions<CorsPolicyOptions>
{
    private static readonly string Setting = FlatSettingNames.Describe("Cors:Origins");

    public ValidateOptionsResult Validate(string? name, CorsPolicyOptions options)
    {
        var failures = new List<string>();
        foreach (var origin in options.AllowedOrigins)
        {
            if (origin.Contains('*'))
            {
                if (environment.IsProduction())
                {
                    failures.Add(Problem($"contains the wildcard '{origin}'; Production must list each origin.",
                        "list the exact origins of your frontends, e.g. CORS_ORIGINS=https://app.example.com,https://admin.example.com."));
                }
                else
                {
                    failures.Add(Problem($"contains the wildcard '{origin}', which is not supported.", "list exact origins, e.g. http://localhost:3000."));
                }
                continue;
            }
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
                || uri.PathAndQuery != "/" || !string.IsNullOrEmpty(uri.UserInfo))
            {
                failures.Add(Problem($"'{origin}' is not an absolute origin (scheme://host[:port], no path).",
                    "write each origin as scheme://host[:port], e.g. https://app.example.com."));
                continue;
            }
            if (environment.IsProduction() && uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback)
            {
                failures.Add(Problem($"'{origin}' uses http:// in Production; only localhost may.",
                    $"serve that frontend over https and list https://{uri.Authority}."));
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Problem(string rule, string fix) => new StartupProblem(Setting, rule, fix).ToString();
}
