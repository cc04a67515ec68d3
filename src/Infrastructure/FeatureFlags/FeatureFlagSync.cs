using System.Threading.Channels;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// Keeps this instance's <see cref="FeatureFlagSnapshot"/> current: loaded once before the port opens, reloaded
/// on every change announced on Redis, and re-read every poll interval in case an announcement was lost.
/// A failed load keeps the previous snapshot (the safe defaults if none was ever loaded).
/// </summary>
public sealed partial class FeatureFlagSync(
    FeatureFlagSnapshot snapshot,
    IServiceProvider services,
    RedisConnection redis,
    IOptions<FeatureFlagOptions> options,
    TimeProvider time,
    ILogger<FeatureFlagSync> logger) : BackgroundService
{
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan ResubscribeDelay = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartupSubscribeTimeout = TimeSpan.FromSeconds(2);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private bool _lastLoadFailed;
    private volatile bool _subscribed;
    private bool _watchingReconnects;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        // Subscribe first, then load: a change committed in between is then either in the load or announced after it.
        using (var subscribing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            subscribing.CancelAfter(StartupSubscribeTimeout);
            await TrySubscribeAsync(subscribing.Token);
        }
        if (!await TryReloadAsync(cancellationToken)) LogStartingWithDefaults(logger);
        await base.StartAsync(cancellationToken);
    }

    /// <summary>Reads the table now and swaps the snapshot; false (snapshot unchanged) when that fails or takes too long.</summary>
    public async Task<bool> TryReloadAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ReloadTimeout);
        try
        {
            await _reloading.WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false; // another reload is stuck on the database; it reports the failure
        }
        try
        {
            // Resolved here, not in the constructor: hosted services are built before the startup guard runs, and
            // the store's data source throws on invalid database settings that the guard should report instead.
            var rows = await services.GetRequiredService<FeatureFlagStore>().ReadAllAsync(timeout.Token);
            snapshot.Replace(rows, time.GetUtcNow());
            if (_lastLoadFailed) LogReloadRecovered(logger);
            _lastLoadFailed = false;
            return true;
        }
        // Whatever the failure (database down, table missing, a row edited by hand into invalid JSON), keep serving
        // the values already known rather than flipping flags.
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            if (!_lastLoadFailed) LogReloadFailed(logger, e.GetType().Name, e.Message);
            _lastLoadFailed = true;
            return false;
        }
        finally
        {
            _reloading.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_subscribed) _ = KeepSubscribingAsync(stoppingToken);
        var interval = TimeSpan.FromSeconds(options.Value.PollIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var poll = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                poll.CancelAfter(interval);
                try
                {
                    await _wake.Reader.WaitToReadAsync(poll.Token);
                    _wake.Reader.TryRead(out _);
                }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
                {
                    // poll interval elapsed
                }
            }
            if (stoppingToken.IsCancellationRequested) break;
            await TryReloadAsync(stoppingToken);
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>One attempt; the client resubscribes by itself after later reconnects.</summary>
    private async Task<bool> TrySubscribeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var multiplexer = await redis.GetMultiplexerAsync(cancellationToken);
            if (!_watchingReconnects)
            {
                // Announcements sent while the connection was down are lost: reload once it is back.
                multiplexer.ConnectionRestored += (_, _) => Wake();
                _watchingReconnects = true;
            }
            await multiplexer.GetSubscriber().SubscribeAsync(RedisChannel.Literal(options.Value.Channel), (_, _) => Wake()).WaitAsync(cancellationToken);
            _subscribed = true;
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }

    private async Task KeepSubscribingAsync(CancellationToken stoppingToken)
    {
        LogNotSubscribed(logger, options.Value.PollIntervalSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(ResubscribeDelay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            if (await TrySubscribeAsync(stoppingToken))
            {
                LogSubscribed(logger);
                Wake(); // whatever was announced before the subscription took effect
                return;
            }
        }
    }

    public override void Dispose()
    {
        _reloading.Dispose();
        base.Dispose();
    }

    [LoggerMessage(LogLevel.Warning, "Feature flags could not be loaded at startup; serving the declared safe defaults until the database answers")]
    private static partial void LogStartingWithDefaults(ILogger logger);

    [LoggerMessage(LogLevel.Warning, "Feature flags could not be reloaded ({Error}: {Message}); keeping the last known values")]
    private static partial void LogReloadFailed(ILogger logger, string error, string message);

    [LoggerMessage(LogLevel.Information, "Feature flags reloaded again after a failure")]
    private static partial void LogReloadRecovered(ILogger logger);

    [LoggerMessage(LogLevel.Warning, "Cannot subscribe to feature flag changes on Redis; flags follow the database every {PollSeconds} s until it can")]
    private static partial void LogNotSubscribed(ILogger logger, int pollSeconds);

    [LoggerMessage(LogLevel.Information, "Subscribed to feature flag changes on Redis")]
    private static partial void LogSubscribed(ILogger logger);
}
