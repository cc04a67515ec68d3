using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.ErrorReporting;

/// <summary>Sentry-protocol error reporting; off while no DSN is set.</summary>
public sealed class ErrorReportingOptions
{
    public const string Section = "ErrorReporting";

    /// <summary>https://PUBLIC_KEY@host/PROJECT_ID (SENTRY_DSN).</summary>
    public string? Dsn { get; set; }

    [Range(0.0, 1.0, ErrorMessage = "ErrorReporting:SampleRate (env ErrorReporting__SampleRate): must be between 0 and 1. Fix: use 1 to send every error, 0.25 to send a quarter.")]
    public double SampleRate { get; set; } = 1.0;
}

public sealed class ErrorReportingOptionsValidator : IValidateOptions<ErrorReportingOptions>
{
    public ValidateOptionsResult Validate(string? name, ErrorReportingOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Dsn) || IsValidDsn(options.Dsn)) return ValidateOptionsResult.Success;
        return ValidateOptionsResult.Fail(new StartupProblem(
            FlatSettingNames.Describe("ErrorReporting:Dsn"),
            "is not a Sentry DSN of the form https://PUBLIC_KEY@host/PROJECT_ID.",
            "copy the DSN from the project's client keys page, or unset SENTRY_DSN to turn error reporting off.").ToString());
    }

    public static bool IsValidDsn(string dsn) =>
        Uri.TryCreate(dsn, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
        && !string.IsNullOrEmpty(uri.UserInfo.Split(':')[0])
        && uri.AbsolutePath.TrimEnd('/').Split('/').Last() is { Length: > 0 } project
        && project.All(char.IsAsciiLetterOrDigit);
}
