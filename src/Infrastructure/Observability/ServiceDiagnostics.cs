using System.Reflection;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Service.Infrastructure.Observability;

/// <summary>
/// The service's own spans and metrics (besides what ASP.NET Core, HttpClient and Npgsql emit): background jobs,
/// flag evaluations, ingested events. Everything named "Service.*" is exported when telemetry is on.
/// </summary>
public static class ServiceDiagnostics
{
    public const string Prefix = "Service";

    /// <summary>The build's informational version: the release in error reports and the service.version of telemetry.</summary>
    public static readonly string Version =
        typeof(ServiceDiagnostics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    public static readonly ActivitySource Jobs = new("Service.Jobs");
    public static readonly ActivitySource Operations = new("Service.Operations");
    public static readonly Meter Meter = new("Service");

    private static readonly Counter<long> JobRuns = Meter.CreateCounter<long>("jobs.runs", "{run}", "Background job runs, by job");
    private static readonly Counter<long> JobFailures = Meter.CreateCounter<long>("jobs.failures", "{run}", "Background job runs that failed, by job");
    private static readonly Counter<long> FlagEvaluations = Meter.CreateCounter<long>("feature_flags.evaluations", "{evaluation}", "Feature gate evaluations, by flag and result");
    private static readonly Counter<long> WebhookAttempts = Meter.CreateCounter<long>("webhooks.attempts", "{attempt}", "Webhook delivery attempts, by resulting status and error class");
    private static readonly Histogram<double> WebhookLatency = Meter.CreateHistogram<double>("webhooks.delivery.duration", "s", "From a message's creation to its acknowledged delivery");
    private static readonly UpDownCounter<long> StreamsOpen = Meter.CreateUpDownCounter<long>("streams.open", "{stream}", "Live streams open on this instance");
    private static readonly Counter<long> StreamCatchUps = Meter.CreateCounter<long>("streams.catch_ups", "{sweep}", "Streams found behind PostgreSQL by the catch-up sweep");
    private static readonly Counter<long> CacheLookups = Meter.CreateCounter<long>("cache.lookups", "{lookup}", "Cached organization reads, by area and result (hit, miss, bypass while Redis is down)");
    private static long _cacheHits, _cacheLookups;
    private static readonly ObservableGauge<double> CacheHitRatio = Meter.CreateObservableGauge("cache.hit_ratio",
        () => Interlocked.Read(ref _cacheLookups) is var lookups and > 0 ? (double)Interlocked.Read(ref _cacheHits) / lookups : 0.0,
        "1", "Share of cached organization reads answered from Redis since this instance started");
    private static readonly Counter<long> EventsIngested = Meter.CreateCounter<long>("events.ingested", "{event}", "Events stored by ingest (duplicates not counted)");

    /// <summary>A span and a run count for one round of a background job; dispose it when the round ends.</summary>
    public static Activity? StartJob(string job)
    {
        JobRuns.Add(1, new KeyValuePair<string, object?>("job", job));
        return Jobs.StartActivity($"job {job}", ActivityKind.Internal)?.SetTag("job.name", job);
    }

    public static void JobFailed(string job, Activity? activity, Exception e)
    {
        JobFailures.Add(1, new KeyValuePair<string, object?>("job", job));
        activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
    }

    public static void FlagEvaluated(string flag, bool enabled) =>
        FlagEvaluations.Add(1, new KeyValuePair<string, object?>("feature", flag), new KeyValuePair<string, object?>("enabled", enabled));

    public static void WebhookAttempt(string status, string? errorClass) =>
        WebhookAttempts.Add(1, new KeyValuePair<string, object?>("status", status), new KeyValuePair<string, object?>("error_class", errorClass ?? "none"));

    public static void WebhookDelivered(TimeSpan sinceCreated) => WebhookLatency.Record(sinceCreated.TotalSeconds);

    public static void StreamOpened() => StreamsOpen.Add(1);
    public static void StreamClosed() => StreamsOpen.Add(-1);
    public static void StreamsBehind(int streams) => StreamCatchUps.Add(streams);

    public static void CacheLookup(string area, string result)
    {
        Interlocked.Increment(ref _cacheLookups);
        if (result == "hit") Interlocked.Increment(ref _cacheHits);
        CacheLookups.Add(1, new KeyValuePair<string, object?>("area", area), new KeyValuePair<string, object?>("result", result));
    }

    public static void Ingested(int events) => EventsIngested.Add(events);

    /// <summary>A client span around one call to a dependency (S3 today), e.g. "s3 PutObject".</summary>
    public static Activity? StartDependencyCall(string system, string operation) =>
        Operations.StartActivity($"{system} {operation}", ActivityKind.Client)?.SetTag("peer.service", system).SetTag("rpc.method", operation);

    public static Activity? StartFlagChange(string flag, bool enabled, string actor) =>
        Operations.StartActivity("feature_flag.change", ActivityKind.Internal)?
            .SetTag("feature", flag).SetTag("enabled", enabled).SetTag("actor", actor);

    /// <summary>Marks the request's span: refused by a rate-limit policy (the span of a 429 says why).</summary>
    public static void RateLimited(string policy) =>
        Activity.Current?.AddEvent(new ActivityEvent("ratelimit.rejected", tags: new ActivityTagsCollection { ["policy"] = policy }));
}
