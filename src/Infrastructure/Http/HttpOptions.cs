using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.Http;

public sealed class HttpOptions
{
    public const string Section = "Http";

    [Range(1024, 1L << 30, ErrorMessage = "Http:MaxRequestBodyBytes (env Http__MaxRequestBodyBytes): must be from 1024 to 1073741824. Fix: set the largest JSON body accepted, e.g. 1048576 (1 MiB).")]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>After SIGTERM, how long readiness answers 503 while requests are still served, so load balancers stop routing first.</summary>
    [Range(0, 300, ErrorMessage = "Http:ShutdownDelaySeconds (env Http__ShutdownDelaySeconds): must be from 0 to 300. Fix: use a little more than your load balancer's probe interval, e.g. 5.")]
    public int ShutdownDelaySeconds { get; set; }

    /// <summary>
    /// Comma-separated IPs or CIDR networks of the load balancers in front of the service. Only requests from them
    /// may set the client IP through X-Forwarded-For (loopback is always trusted).
    /// </summary>
    public string TrustedProxies { get; set; } = "";

    /// <summary>How long in-flight requests may take to finish once the server stops accepting new ones.</summary>
    [Range(1, 600, ErrorMessage = "Http:ShutdownTimeoutSeconds (env Http__ShutdownTimeoutSeconds): must be from 1 to 600. Fix: e.g. 30; keep it below the orchestrator's termination grace period.")]
    public int ShutdownTimeoutSeconds { get; set; } = 30;
}
