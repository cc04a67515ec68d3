using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Redis;

/// <summary>
/// Connects to Redis while the service starts, before the port opens, so the first requests do not pay the
/// handshake (with rate limiting on every request, that cost would exceed the decision timeout and fall back).
/// Redis being down does not block startup: the wait is bounded and the multiplexer keeps reconnecting.
/// </summary>
public sealed partial class RedisWarmup(RedisConnection redis, IOptions<RedisOptions> options, ILogger<RedisWarmup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var multiplexer = await redis.GetMultiplexerAsync(cancellationToken)
                .WaitAsync(TimeSpan.FromMilliseconds(options.Value.ConnectTimeoutMilliseconds * 2), cancellationToken);
            if (!multiplexer.IsConnected) LogNotConnected(logger);
        }
        catch (Exception e) when (e is TimeoutException or StackExchange.Redis.RedisException)
        {
            LogNotConnected(logger);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(LogLevel.Warning, "Redis is not reachable at startup; starting anyway (rate limits fall back per policy until it is)")]
    private static partial void LogNotConnected(ILogger logger);
}
