using System.Threading.RateLimiting;

namespace Service.Infrastructure.RateLimiting;

/// <summary>The outcomes the limiter hands to the framework's middleware.</summary>
public sealed class RateLimitDecisionLease : RateLimitLease
{
    public static readonly RateLimitDecisionLease Granted = new(true, null, null, TimeSpan.Zero, unavailable: false);

    /// <summary>Answer to the synchronous attempt: decisions need Redis, so the middleware goes on to AcquireAsync.</summary>
    public static readonly RateLimitDecisionLease Deferred = new(false, null, null, TimeSpan.Zero, unavailable: false);

    private RateLimitDecisionLease(bool acquired, string? policy, WindowDecision? decision, TimeSpan retryAfter, bool unavailable)
    {
        IsAcquired = acquired;
        Policy = policy;
        Decision = decision;
        RetryAfter = retryAfter;
        Unavailable = unavailable;
    }

    public override bool IsAcquired { get; }
    public string? Policy { get; }
    public WindowDecision? Decision { get; }
    public TimeSpan RetryAfter { get; }

    /// <summary>Refused because Redis was unreachable and the policy fails closed (503), not because of a limit (429).</summary>
    public bool Unavailable { get; }

    public static RateLimitDecisionLease Refused(string policy, WindowDecision decision) => new(false, policy, decision, decision.RetryAfter, unavailable: false);

    public static RateLimitDecisionLease NoDecision(string policy, TimeSpan retryAfter) => new(false, policy, null, retryAfter, unavailable: true);

    public override IEnumerable<string> MetadataNames => IsAcquired ? [] : [MetadataName.RetryAfter.Name];

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = !IsAcquired && metadataName == MetadataName.RetryAfter.Name ? RetryAfter : null;
        return metadata is not null;
    }
}
