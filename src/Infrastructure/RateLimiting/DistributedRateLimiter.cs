using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Resilience;
using Service.Infrastructure.Settings;
using StackExchange.Redis;

namespace Service.Infrastructure.RateLimiting;

/// <summary>
/// The framework middleware's global limiter. For each request: the endpoint's policy (default "api"), the client
/// identity, allowlist and overrides, then one Redis script call. Redis calls go through a timeout and a circuit
/// breaker: while Redis is down the breaker is open and costs nothing per request; fail-open policies then decide
/// in memory with the same limits, fail-closed ones refuse with 503.
/// </summary>
public sealed partial class DistributedRateLimiter : PartitionedRateLimiter<HttpContext>
{
    private readonly IOptionsMonitor<RateLimitOptions> _options;
    private readonly RedisWindowStore _redis;
    private readonly LocalWindowStore _local;
    private readonly RateLimitTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger<DistributedRateLimiter> _logger;
    private readonly ResiliencePipeline _redisCalls;
    private long _lastWarningTicks;

    public DistributedRateLimiter(IOptionsMonitor<RateLimitOptions> options, RedisWindowStore redis, LocalWindowStore local,
        RateLimitTelemetry telemetry, TimeProvider time, DependencyPipelines pipelines, ILogger<DistributedRateLimiter> logger)
    {
        _options = options;
        _redis = redis;
        _local = local;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        var settings = options.CurrentValue;
        // No retry: the decision script counts the request, and a rate decision must not wait. No timeout either: the
        // store enforces the decision budget for all waiting decisions with one timer (Polly's is one per call, and
        // cost more CPU than deciding). The sampling window is as short as the budget allows, so a hung Redis opens the
        // circuit within about half a second even after thousands of good decisions; minimum throughput 10: a burst's
        // few slow answers must not open it.
        var budget = TimeSpan.FromMilliseconds(settings.RedisTimeoutMilliseconds);
        _redisCalls = pipelines.Build(new DependencyPolicy("redis", Timeout: null, TimeSpan.FromSeconds(settings.BreakSeconds), MinimumThroughput: 10,
            (e, _) => e is RedisException or TimeoutException, Sampling: budget * 2), Circuit);
    }

    /// <summary>Closed while Redis answers; open (no Redis calls) after repeated failures, until the break ends.</summary>
    public CircuitBreakerStateProvider Circuit { get; } = new();

    public override RateLimiterStatistics? GetStatistics(HttpContext resource) => null;

    protected override RateLimitLease AttemptAcquireCore(HttpContext resource, int permitCount) =>
        permitCount == 0 ? RateLimitDecisionLease.Granted : RateLimitDecisionLease.Deferred;

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(HttpContext context, int permitCount, CancellationToken cancellationToken)
    {
        var settings = _options.CurrentValue;
        if (!settings.Enabled || permitCount == 0) return RateLimitDecisionLease.Granted;

        var policy = RateLimitPolicies.Resolve(context.GetEndpoint()?.Metadata.GetMetadata<RateLimitPolicyMetadata>()?.Name ?? RateLimitPolicies.Api, settings);
        var client = await ClientIdentity.ResolveAsync(context, policy.Name, cancellationToken);
        if (IsExempt(client, settings)) return RateLimitDecisionLease.Granted;

        var limits = Limits(policy, client, settings);
        var keys = client.Keys.Select(k => $"{settings.KeyPrefix}:{policy.Name}:{k}").ToList();
        WindowDecision decision;
        try
        {
            var budget = TimeSpan.FromMilliseconds(settings.RedisTimeoutMilliseconds);
            decision = await _redisCalls.ExecuteAsync(
                async token => await _redis.DecideAsync(keys, limits, policy.Monitor, token, budget), cancellationToken);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ExecutionRejectedException && !cancellationToken.IsCancellationRequested)
        {
            WarnThrottled(e, settings);
            if (policy.FailureMode == FailureMode.FailClosed)
            {
                _telemetry.Unavailable(policy.Name);
                return RateLimitDecisionLease.NoDecision(policy.Name, TimeSpan.FromSeconds(settings.BreakSeconds));
            }
            _telemetry.Fallback(policy.Name);
            decision = _local.Decide(keys, limits, policy.Monitor);
        }

        RateLimitHeaders.Register(context, policy.Name, decision, _time);
        if (decision.Allowed) return RateLimitDecisionLease.Granted;
        if (policy.Monitor)
        {
            _telemetry.MonitorWouldReject(policy.Name);
            LogWouldReject(_logger, policy.Name, client.Keys[0]);
            return RateLimitDecisionLease.Granted;
        }
        _telemetry.Rejected(policy.Name);
        ServiceDiagnostics.RateLimited(policy.Name);
        return RateLimitDecisionLease.Refused(policy.Name, decision);
    }

    private static IReadOnlyList<WindowLimit> Limits(ResolvedPolicy policy, ClientIdentity client, RateLimitOptions settings)
    {
        var perMinute = policy.PerMinute;
        var perHour = policy.PerHour;
        if (client.PrincipalId is { } id && settings.Overrides.TryGetValue(id, out var custom))
        {
            perMinute = custom.PerMinute ?? perMinute;
            perHour = custom.PerHour ?? perHour;
        }
        return [new WindowLimit("minute", perMinute, settings.MinuteWindowSeconds), new WindowLimit("hour", perHour, settings.HourWindowSeconds)];
    }

    private bool IsExempt(ClientIdentity client, RateLimitOptions settings)
    {
        var allowlist = Allowlist(settings.Allowlist);
        if (client.ApiKeyId is { } keyId && allowlist.ApiKeyIds.Contains(keyId)) return true;
        return client.Ip is { } ip && allowlist.Networks.Any(n => n.Contains(ip));
    }

    private sealed record ParsedAllowlist(string NetworksSource, string KeysSource, System.Net.IPNetwork[] Networks, HashSet<string> ApiKeyIds);

    private ParsedAllowlist? _allowlist;

    // Parsed once per configured value, not per request (settings can change at runtime through IOptionsMonitor).
    private ParsedAllowlist Allowlist(RateLimitOptions.AllowlistOptions configured)
    {
        var cached = _allowlist;
        if (cached is not null && ReferenceEquals(cached.NetworksSource, configured.Networks) && ReferenceEquals(cached.KeysSource, configured.ApiKeyIds)) return cached;
        var keys = SettingLists.Split(configured.ApiKeyIds).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return _allowlist = new ParsedAllowlist(configured.Networks, configured.ApiKeyIds, SettingLists.Networks(configured.Networks), keys);
    }

    private void WarnThrottled(Exception e, RateLimitOptions settings)
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastWarningTicks);
        if (last != 0 && _time.GetElapsedTime(last, now) < TimeSpan.FromSeconds(settings.FallbackWarningIntervalSeconds)) return;
        if (Interlocked.CompareExchange(ref _lastWarningTicks, now, last) != last) return;
        LogRedisUnavailable(_logger, e.GetType().Name, _telemetry.FallbackDecisions, _telemetry.UnavailableRefusals, settings.FallbackWarningIntervalSeconds);
    }

    [LoggerMessage(LogLevel.Warning, "Rate limiting cannot reach Redis ({Reason}): fail-open policies decide in memory, fail-closed policies answer 503 " +
        "({FallbackDecisions} fallback decisions, {Refusals} refusals so far; next warning in {IntervalSeconds} s at the earliest)")]
    private static partial void LogRedisUnavailable(ILogger logger, string reason, long fallbackDecisions, long refusals, int intervalSeconds);

    [LoggerMessage(LogLevel.Information, "Rate limit {Policy} would reject {Client} (monitor mode: allowed)")]
    private static partial void LogWouldReject(ILogger logger, string policy, string client);
}
