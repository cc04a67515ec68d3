using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Http;

public sealed class HttpOptionsValidator : IValidateOptions<HttpOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpOptions options)
    {
        var bad = SettingLists.InvalidNetworks(options.TrustedProxies);
        return bad.Length == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(new StartupProblem("Http:TrustedProxies (env Http__TrustedProxies)",
                $"'{string.Join("', '", bad)}' is neither an IP address nor a CIDR network.",
                "list your load balancers, e.g. 10.0.0.0/8,192.0.2.10.").ToString());
    }
}
