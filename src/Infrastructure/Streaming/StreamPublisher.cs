using System.Text.Json;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// Announces committed stream events: to this instance's streams at once, and to every other instance through one
/// Redis message. Call it after the transaction that wrote the events has committed. It never fails the caller:
/// an announcement that does not get through is made up by each instance's catch-up sweep from PostgreSQL.
/// </summary>
public sealed partial class StreamPublisher(StreamHub hub, RedisConnection redis, IOptions<StreamOptions> options,
    IOptions<RedisOptions> redisOptions, ILogger<StreamPublisher> logger)
{
    public async Task PublishAsync(IReadOnlyList<StreamEvent> events)
    {
        if (events.Count == 0) return;
        hub.Route(events);
        var timeout = TimeSpan.FromMilliseconds(redisOptions.Value.OperationTimeoutMilliseconds);
        try
        {
            // Not the request's token: a client that hangs up after the commit must not cancel the announcement.
            var multiplexer = await redis.GetMultiplexerAsync(CancellationToken.None).WaitAsync(timeout);
            await multiplexer.GetSubscriber().PublishAsync(RedisChannel.Literal(options.Value.Channel), JsonSerializer.Serialize(events)).WaitAsync(timeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogNotPublished(logger, events.Count, options.Value.CatchUpSeconds, e.GetType().Name);
        }
    }

    [LoggerMessage(LogLevel.Warning, "{Events} stream events committed but not announced on Redis ({Error}); other instances deliver them within {Seconds} s")]
    private static partial void LogNotPublished(ILogger logger, int events, int seconds, string error);
}
