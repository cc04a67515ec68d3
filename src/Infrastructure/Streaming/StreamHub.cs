using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.FeatureManagement;
using Npgsql;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Observability;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// This instance's open streams and its one Redis subscription: every published event is routed to the streams of
/// its user here. Every second it closes streams whose access token expired; every heartbeat it sends the comment
/// line and renews the stream slots; every Stream:CatchUpSeconds (and as soon as Redis reconnects) it compares each
/// stream with PostgreSQL and refreshes memberships, so nothing is missed while Redis is down. On shutdown every
/// stream is closed with a reason, and new ones are refused, so clients reconnect to another instance.
/// </summary>
public sealed partial class StreamHub(
    IServiceProvider services,
    RedisConnection redis,
    StreamSlots slots,
    IOptions<StreamOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<StreamHub> logger) : BackgroundService
{
    private static readonly TimeSpan SubscribeTimeout = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, List<StreamConnection>> _byUser = [];
    private volatile bool _stopping;
    private volatile bool _subscribed;
    private volatile bool _sweepRequested;
    private bool _watchingReconnects;

    public bool IsStopping => _stopping || lifetime.ApplicationStopping.IsCancellationRequested;

    public int CountFor(Guid userId)
    {
        lock (_gate) return _byUser.TryGetValue(userId, out var list) ? list.Count : 0;
    }

    /// <summary>False once shutdown has begun.</summary>
    public bool TryAdd(StreamConnection connection)
    {
        lock (_gate)
        {
            if (IsStopping) return false;
            if (!_byUser.TryGetValue(connection.UserId, out var list)) _byUser[connection.UserId] = list = [];
            list.Add(connection);
        }
        ServiceDiagnostics.StreamOpened();
        return true;
    }

    public void Remove(StreamConnection connection)
    {
        lock (_gate)
        {
            if (!_byUser.TryGetValue(connection.UserId, out var list) || !list.Remove(connection)) return;
            if (list.Count == 0) _byUser.Remove(connection.UserId);
        }
        ServiceDiagnostics.StreamClosed();
    }

    /// <summary>Offers each event to the streams of its user on this instance.</summary>
    public void Route(IEnumerable<StreamEvent> events)
    {
        foreach (var e in events)
        {
            StreamConnection[] targets;
            lock (_gate)
            {
                if (!_byUser.TryGetValue(e.UserId, out var list)) continue;
                targets = [.. list];
            }
            foreach (var target in targets) target.Offer(e);
        }
    }

    private List<StreamConnection> Snapshot()
    {
        lock (_gate) return _byUser.Values.SelectMany(list => list).ToList();
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(CloseAll);
        using (var subscribing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            subscribing.CancelAfter(SubscribeTimeout);
            await TrySubscribeAsync(subscribing.Token);
        }
        await base.StartAsync(cancellationToken);
    }

    private void CloseAll()
    {
        _stopping = true;
        var open = Snapshot();
        if (open.Count > 0) LogClosingForShutdown(logger, open.Count);
        foreach (var connection in open) connection.Close("shutdown");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        long tick = 0;
        if (!_subscribed) LogNotSubscribed(logger, settings.CatchUpSeconds);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                tick++;
                try
                {
                    await TickAsync(tick, settings, stoppingToken);
                }
                // A failed round must not stop the hub (an exception escaping a hosted service stops the host).
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogTickFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One second of the hub: expiries every tick, heartbeats and slot renewal every heartbeat, the sweep every catch-up interval.</summary>
    private async Task TickAsync(long tick, StreamOptions settings, CancellationToken stoppingToken)
    {
        var open = Snapshot();
        if (open.Count > 0 && !await services.GetRequiredService<IFeatureManager>().IsEnabledAsync(FeatureFlagCatalog.LiveStream.Name))
        {
            // The kill switch: new streams already get 503 from the gate; the open ones end here.
            foreach (var connection in open) connection.Close("disabled");
            return;
        }
        var now = time.GetUtcNow();
        foreach (var connection in open.Where(c => c.ExpiresAt <= now)) connection.Close("token_expired");
        if (tick % settings.HeartbeatSeconds == 0)
        {
            foreach (var connection in open) connection.SendHeartbeat();
            await slots.RenewAsync(open, stoppingToken);
        }
        if (!_subscribed && tick % 2 == 0 && await TrySubscribeAsync(stoppingToken))
        {
            LogSubscribed(logger);
            _sweepRequested = true;
        }
        if (_sweepRequested || tick % settings.CatchUpSeconds == 0)
        {
            _sweepRequested = false;
            await SweepAsync(open, stoppingToken);
        }
    }

    /// <summary>One query for the newest event of every user streaming here, one for their memberships.</summary>
    private async Task SweepAsync(List<StreamConnection> open, CancellationToken stoppingToken)
    {
        if (open.Count == 0) return;
        var users = open.Select(c => c.UserId).Distinct().ToList();
        try
        {
            // Resolved here, not in the constructor: hosted services are built before the startup guard runs.
            var dataSource = services.GetRequiredService<NpgsqlDataSource>();
            await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
            // Heads first, as a stream does when it opens (StreamConnection.OpenAsync).
            var heads = await StreamLog.ReadHeadsAsync(connection, users, stoppingToken);
            var memberships = await StreamLog.ReadMembershipsAsync(connection, users, stoppingToken);
            var behind = 0;
            foreach (var stream in open)
            {
                var head = heads.GetValueOrDefault(stream.UserId);
                stream.ReplaceOrgs(memberships[stream.UserId], head);
                if (head > stream.LastSeq)
                {
                    stream.MarkBehind();
                    behind++;
                }
            }
            if (behind > 0) ServiceDiagnostics.StreamsBehind(behind);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
        {
            LogSweepFailed(logger, e.GetType().Name);
        }
    }

    /// <summary>One attempt; the client resubscribes by itself after later reconnects.</summary>
    private async Task<bool> TrySubscribeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var multiplexer = await redis.GetMultiplexerAsync(cancellationToken);
            if (!_watchingReconnects)
            {
                // Events published while the connection was down never arrive: compare with PostgreSQL once it is back.
                multiplexer.ConnectionRestored += (_, _) => _sweepRequested = true;
                _watchingReconnects = true;
            }
            // A queue delivers messages one at a time in publish order, so events rarely arrive out of order here.
            var queue = await multiplexer.GetSubscriber().SubscribeAsync(RedisChannel.Literal(options.Value.Channel)).WaitAsync(cancellationToken);
            queue.OnMessage(message => Receive(message.Message));
            _subscribed = true;
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
        {
            return false;
        }
    }

    private void Receive(RedisValue message)
    {
        try
        {
            if (JsonSerializer.Deserialize<StreamEvent[]>((string)message!) is { } events) Route(events);
        }
        catch (JsonException e)
        {
            LogMalformed(logger, e.Message);
        }
    }

    [LoggerMessage(LogLevel.Information, "Shutting down: closing {Streams} live streams so that clients reconnect elsewhere")]
    private static partial void LogClosingForShutdown(ILogger logger, int streams);

    [LoggerMessage(LogLevel.Warning, "Cannot subscribe to stream events on Redis; streams here follow PostgreSQL every {Seconds} s until it can")]
    private static partial void LogNotSubscribed(ILogger logger, int seconds);

    [LoggerMessage(LogLevel.Information, "Subscribed to stream events on Redis")]
    private static partial void LogSubscribed(ILogger logger);

    [LoggerMessage(LogLevel.Warning, "Stream catch-up sweep failed ({Error}); trying again at the next one")]
    private static partial void LogSweepFailed(ILogger logger, string error);

    [LoggerMessage(LogLevel.Error, "A round of the stream hub failed; the next one runs in a second")]
    private static partial void LogTickFailed(ILogger logger, Exception exception);

    [LoggerMessage(LogLevel.Warning, "Ignored a malformed message on the stream channel: {Error}")]
    private static partial void LogMalformed(ILogger logger, string error);
}
