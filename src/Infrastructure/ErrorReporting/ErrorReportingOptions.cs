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

    /// <summary>Send the user's email with an error (off: only the user id).</summary>
    public bool SendDefaultPii { get; set; }

    /// <summary>Log lines kept per request (and for background work) and sent with an error.</summary>
    [Range(0, 200, ErrorMessage = "ErrorReporting:MaxBreadcrumbs (env ErrorReporting__MaxBreadcrumbs): must be from 0 to 200. Fix: e.g. 30.")]
    public int MaxBreadcrumbs { get; set; } = 30;

    /// <summary>Errors waiting to be sent; beyond this they are dropped (and counted in Sentry's client reports), never slowing a request.</summary>
    [Range(1, 10_000, ErrorMessage = "ErrorReporting:QueueCapacity (env ErrorReporting__QueueCapacity): must be from 1 to 10000. Fix: e.g. 100.")]
    public int QueueCapacity { get; set; } = 100;

    [Range(1, 60, ErrorMessage = "ErrorReporting:SendTimeoutSeconds (env ErrorReporting__SendTimeoutSeconds): must be from 1 to 60. Fix: e.g. 5.")]
    public int SendTimeoutSeconds { get; set; } = 5;

    /// <summary>At shutdown, how long queued errors may take to be sent before the rest is dropped.</summary>
    [Range(0, 60, ErrorMessage = "ErrorReporting:ShutdownTimeoutSeconds (env ErrorReporting__ShutdownTimeoutSeconds): must be from 0 to 60. Fix: e.g. 2.")]
    public int ShutdownTimeoutSeconds { get; set; } = 2;

    /// <summary>Whether errors are sent at all: a valid DSN and a sample rate above 0.</summary>
    public bool Reports => !string.IsNullOrWhiteSpace(Dsn) && ErrorReportingOptionsValidator.IsValidDsn(Dsn) && SampleRate is > 0 and <= 1;
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
