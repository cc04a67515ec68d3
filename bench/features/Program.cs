using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Service.Infrastructure.FeatureFlags;

/// <summary>
/// The service as it runs in production, plus two routes for the benchmark: identical handlers, one behind the
/// EventIngest kill switch. Listens on 127.0.0.1:&lt;port&gt; until SIGTERM or SIGINT.
/// </summary>
/// <remarks>Not top-level statements: their generated Program class would hide the service's Program.</remarks>
static class GateBench
{
    public static async Task Main(string[] args)
    {
        await using var factory = new GateBenchFactory();
        await BenchHost.ServeUntilStoppedAsync(factory, int.Parse(args[0]), "gate bench");
    }
}

sealed class GateBenchFactory : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.ConfigureServices(services => services.AddSingleton<IStartupFilter, BenchRoutes>());
    }
}

sealed class BenchRoutes : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        var endpoints = (IEndpointRouteBuilder)app.Properties["__EndpointRouteBuilder"]!;
        // Rate limiting off on both: its Redis round trip would drown the difference being measured.
        endpoints.MapGet("/bench/ungated", () => TypedResults.Ok(new { ok = true })).AllowAnonymous().DisableRateLimiting();
        endpoints.MapGet("/bench/gated", () => TypedResults.Ok(new { ok = true })).AllowAnonymous().DisableRateLimiting()
            .RequireFeature(FeatureFlagCatalog.EventIngest);
    };
}
