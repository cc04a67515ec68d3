using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Integrations;

/// <summary>Outbound calls to integrations: where they may go, how long one attempt may take, how deliveries retry.</summary>
public sealed class IntegrationOptions
{
    public const string Section = "Integrations";

    /// <summary>CIDRs that outbound calls may reach although they are private (loopback receivers in development). Empty in Production.</summary>
    public string AllowedPrivateNetworks { get; set; } = "";

    /// <summary>Response headers must arrive within this; then at most a 1 KiB body excerpt is read, within as long again.</summary>
    [Range(1, 60, ErrorMessage = "Integrations:AttemptTimeoutSeconds (env Integrations__AttemptTimeoutSeconds): must be from 1 to 60. Fix: e.g. 10.")]
    public int AttemptTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// Upper bounds, in seconds, of the waits before each retry; each wait is drawn uniformly below its bound (full
    /// jitter). One entry per retry: the default makes 8 attempts spread over up to 24 h.
    /// </summary>
    public string RetrySchedule
    {
        get => _retrySchedule;
        set => (_retrySchedule, _retryBounds) = (value, null);
    }

    private string _retrySchedule = "10,60,300,1800,7200,21600,54000";
    private IReadOnlyList<TimeSpan>? _retryBounds;

    /// <summary>A receiver's Retry-After (on 429 and 503) is honoured up to this many seconds.</summary>
    [Range(1, 86400, ErrorMessage = "Integrations:MaxRetryAfterSeconds (env Integrations__MaxRetryAfterSeconds): must be from 1 to 86400. Fix: e.g. 21600.")]
    public int MaxRetryAfterSeconds { get; set; } = 21600;

    /// <summary>Attempts one instance runs at the same time.</summary>
    [Range(1, 512, ErrorMessage = "Integrations:DeliveryConcurrency (env Integrations__DeliveryConcurrency): must be from 1 to 512. Fix: e.g. 32.")]
    public int DeliveryConcurrency { get; set; } = 32;

    /// <summary>How often a worker looks for due retries when no new message wakes it.</summary>
    [Range(10, 60_000, ErrorMessage = "Integrations:PollIntervalMilliseconds (env Integrations__PollIntervalMilliseconds): must be from 10 to 60000. Fix: e.g. 1000.")]
    public int PollIntervalMilliseconds { get; set; } = 1000;

    /// <summary>Failed attempts to one destination (scheme, host, port) within 30 s before its circuit opens; then calls wait BreakSeconds.</summary>
    [Range(2, 1000, ErrorMessage = "Integrations:BreakerMinimumThroughput (env Integrations__BreakerMinimumThroughput): must be from 2 to 1000. Fix: e.g. 10.")]
    public int BreakerMinimumThroughput { get; set; } = 10;

    [Range(1, 3600, ErrorMessage = "Integrations:BreakSeconds (env Integrations__BreakSeconds): must be from 1 to 3600. Fix: e.g. 30.")]
    public int BreakSeconds { get; set; } = 30;

    /// <summary>Delivered and failed deliveries older than this are deleted by the retention job.</summary>
    [Range(1, 3650, ErrorMessage = "Integrations:DeliveryRetentionDays (env Integrations__DeliveryRetentionDays): must be from 1 to 3650. Fix: e.g. 30.")]
    public int DeliveryRetentionDays { get; set; } = 30;

    [Range(1, 86400, ErrorMessage = "Integrations:RetentionIntervalSeconds (env Integrations__RetentionIntervalSeconds): must be from 1 to 86400. Fix: e.g. 3600.")]
    public int RetentionIntervalSeconds { get; set; } = 3600;

    [Range(1, 100_000, ErrorMessage = "Integrations:RetentionBatchSize (env Integrations__RetentionBatchSize): must be from 1 to 100000. Fix: e.g. 5000.")]
    public int RetentionBatchSize { get; set; } = 5000;

    public TimeSpan AttemptTimeout => TimeSpan.FromSeconds(AttemptTimeoutSeconds);

    /// <summary>
    /// How long a claimed delivery stays invisible to other workers. It must outlast an attempt (headers and excerpt,
    /// twice AttemptTimeoutSeconds); it is also how long the deliveries of an instance that died wait to be taken over.
    /// </summary>
    [Range(2, 3600, ErrorMessage = "Integrations:LeaseSeconds (env Integrations__LeaseSeconds): must be from 2 to 3600. Fix: e.g. 60.")]
    public int LeaseSeconds { get; set; } = 60;

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);

    public int MaxAttempts => RetryBounds.Count + 1;

    /// <summary>The schedule parsed once (every enqueue reads MaxAttempts), again only if the setting changes.</summary>
    public IReadOnlyList<TimeSpan> RetryBounds => _retryBounds ??= ParseSchedule(RetrySchedule) ?? [];

    public static IReadOnlyList<TimeSpan>? ParseSchedule(string value)
    {
        var entries = SettingLists.Split(value);
        var bounds = new List<TimeSpan>();
        foreach (var entry in entries)
        {
            if (!double.TryParse(entry, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || seconds is <= 0 or > 7 * 86400) return null;
            bounds.Add(TimeSpan.FromSeconds(seconds));
        }
        return bounds.Count is >= 1 and <= 20 ? bounds : null;
    }
}

public sealed class IntegrationOptionsValidator(IHostEnvironment environment) : IValidateOptions<IntegrationOptions>
{
    public ValidateOptionsResult Validate(string? name, IntegrationOptions options)
    {
        var problems = new List<string>();
        var bad = SettingLists.InvalidNetworks(options.AllowedPrivateNetworks);
        if (bad.Length > 0)
        {
            problems.Add(new StartupProblem("Integrations:AllowedPrivateNetworks (env Integrations__AllowedPrivateNetworks)",
                $"'{string.Join("', '", bad)}' is neither an IP address nor a CIDR network.", "list networks such as 127.0.0.1/32, or leave it empty.").ToString());
        }
        else if (environment.IsProduction() && SettingLists.Split(options.AllowedPrivateNetworks).Length > 0)
        {
            problems.Add(new StartupProblem("Integrations:AllowedPrivateNetworks (env Integrations__AllowedPrivateNetworks)",
                "is set in Production; customers' webhook URLs could then reach the service's own network.", "leave it empty in Production.").ToString());
        }
        if (options.LeaseSeconds <= 2 * options.AttemptTimeoutSeconds)
        {
            problems.Add(new StartupProblem("Integrations:LeaseSeconds (env Integrations__LeaseSeconds)",
                $"is {options.LeaseSeconds}, not more than twice Integrations:AttemptTimeoutSeconds ({options.AttemptTimeoutSeconds}); a slow attempt would be claimed again while it runs.",
                $"e.g. {2 * options.AttemptTimeoutSeconds + 30}.").ToString());
        }
        if (IntegrationOptions.ParseSchedule(options.RetrySchedule) is null)
        {
            problems.Add(new StartupProblem("Integrations:RetrySchedule (env Integrations__RetrySchedule)",
                $"'{options.RetrySchedule}' is not 1 to 20 comma-separated positive numbers of seconds (each at most 7 days).",
                "e.g. 10,60,300,1800,7200,21600,54000.").ToString());
        }
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
