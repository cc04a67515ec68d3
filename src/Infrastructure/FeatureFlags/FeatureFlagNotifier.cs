using Microsoft.Extensions.Options;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>Announces a committed flag change on the Redis channel every instance listens to.</summary>
public sealed partial class FeatureFlagNotifier(RedisConnection redis, IOptions<FeatureFlagOptions> options, IOptions<RedisOptions> redisOptions, ILogger<FeatureFlagNotifier> logger)
{
    /// <summary>False when Redis could not be reached: other instances then follow within their poll interval.</summary>
    public async Task<bool> PublishAsync(string flagName, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMilliseconds(redisOptions.Value.OperationTimeoutMilliseconds);
        try
        {
            var multiplexer = await redis.GetMultiplexerAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
            // The client's commands take no token: bound the wait here.
            await multiplexer.GetSubscriber().PublishAsync(RedisChannel.Literal(options.Value.Channel), flagName).WaitAsync(timeout, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogNotPublished(logger, flagName, options.Value.PollIntervalSeconds, e.GetType().Name);
            return false;
        }
    }

    [LoggerMessage(LogLevel.Warning, "Change of feature flag {Flag} committed but not announced ({Error}); other instances pick it up within {PollSeconds} s")]
    private static partial void LogNotPublished(ILogger logger, string flag, int pollSeconds, string error);
}
