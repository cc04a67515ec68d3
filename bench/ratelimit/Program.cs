using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.TestHost;
using RedisRateLimiting;
using Service.Infrastructure.Security;
using StackExchange.Redis;

/// <summary>
/// The service as it runs in production (settings from the environment), listening on 127.0.0.1:&lt;port&gt; until
/// SIGTERM or SIGINT, with rate limiting in the given mode: "ours", "off", or "anchor".
/// </summary>
/// <remarks>Not top-level statements: their generated Program class would hide the service's Program.</remarks>
static class RateLimitBench
{
    public static async Task Main(string[] args)
    {
        await using var factory = new RateLimitBenchFactory(args[1]);
        await BenchHost.ServeUntilStoppedAsync(factory, int.Parse(args[0]), args[1]);
    }
}

sealed class RateLimitBenchFactory(string mode) : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        if (mode == "off") builder.UseSetting("RateLimits:Enabled", "false");
        if (mode != "anchor") return;
        // What a .NET user would pick instead: the framework's middleware with RedisRateLimiting's sliding window,
        // one window per user (ours keeps two, a minute and an hour), through the service's own multiplexer.
        builder.ConfigureTestServices(services => services.PostConfigure<RateLimiterOptions>(options =>
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var key = context.User.UserId()?.ToString() ?? context.Connection.RemoteIpAddress?.ToString() ?? "anonymous";
                return RedisRateLimitPartition.GetSlidingWindowRateLimiter(key, _ => new RedisSlidingWindowRateLimiterOptions
                {
                    ConnectionMultiplexerFactory = () => context.RequestServices.GetRequiredService<IConnectionMultiplexer>(),
                    PermitLimit = int.Parse(Environment.GetEnvironmentVariable("RATE_LIMIT_PER_MINUTE") ?? "1000000"),
                    Window = TimeSpan.FromMinutes(1),
                });
            })));
    }
}
