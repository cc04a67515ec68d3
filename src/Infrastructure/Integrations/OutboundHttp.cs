using System.Net;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace Service.Infrastructure.Integrations;

/// <summary>
/// The HttpClients that call integrations (through IHttpClientFactory). Every connection goes through the
/// <see cref="OutboundConnector"/>; no redirects, proxies, cookies or decompression. Deliveries have a circuit breaker per
/// destination (scheme, host, port) so a dead endpoint fails fast instead of holding workers; the test call has none,
/// so that someone who just fixed their endpoint gets a real answer.
/// </summary>
public static class OutboundHttp
{
    public const string Deliveries = "integrations.deliveries";
    public const string Tests = "integrations.tests";
    public const string Steps = "integrations.workflow-steps";

    public static void AddOutboundHttp(this IServiceCollection services)
    {
        services.AddHttpClient(Deliveries)
            .ConfigureHttpClient(ConfigureClient)
            .ConfigurePrimaryHttpMessageHandler(CreateHandler)
            .AddResilienceHandler("deliveries", (pipeline, context) =>
            {
                var options = context.ServiceProvider.GetRequiredService<IOptions<IntegrationOptions>>().Value;
                pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
                {
                    FailureRatio = 0.8,
                    MinimumThroughput = options.BreakerMinimumThroughput,
                    SamplingDuration = TimeSpan.FromSeconds(30),
                    BreakDuration = TimeSpan.FromSeconds(options.BreakSeconds),
                });
                pipeline.AddTimeout(options.AttemptTimeout);
            })
            .SelectPipelineByAuthority();

        services.AddHttpClient(Tests)
            .ConfigureHttpClient(ConfigureClient)
            .ConfigurePrimaryHttpMessageHandler(CreateHandler)
            .AddResilienceHandler("tests", (pipeline, context) =>
                pipeline.AddTimeout(context.ServiceProvider.GetRequiredService<IOptions<IntegrationOptions>>().Value.AttemptTimeout));

        AddStepClient(services);
    }

    /// <summary>
    /// Workflow steps: no pipeline timeout or circuit breaker. The step's own timeout (and the run's, and a cancel)
    /// is a cancellation token that aborts the call, and each failure shows in the run that met it.
    /// </summary>
    private static void AddStepClient(IServiceCollection services) =>
        services.AddHttpClient(Steps).ConfigureHttpClient(ConfigureClient).ConfigurePrimaryHttpMessageHandler(CreateHandler);

    private static void ConfigureClient(HttpClient client)
    {
        client.Timeout = Timeout.InfiniteTimeSpan; // the pipeline's timeout bounds each attempt
        client.DefaultRequestHeaders.UserAgent.ParseAdd("WorkflowService-Webhooks/1.0");
    }

    private static HttpMessageHandler CreateHandler(IServiceProvider services) => new SocketsHttpHandler
    {
        ConnectCallback = services.GetRequiredService<OutboundConnector>().ConnectAsync,
        ConnectTimeout = services.GetRequiredService<IOptions<IntegrationOptions>>().Value.AttemptTimeout,
        AllowAutoRedirect = false,
        UseProxy = false, // a proxy would connect on our behalf, past the address check
        UseCookies = false,
        AutomaticDecompression = DecompressionMethods.None,
        // A response left unread (we keep 1 KiB) is drained only briefly; otherwise the connection is closed.
        MaxResponseDrainSize = 16 * 1024,
        ResponseDrainTimeout = TimeSpan.FromMilliseconds(100),
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        MaxConnectionsPerServer = 64,
    };
}
