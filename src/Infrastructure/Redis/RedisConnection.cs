using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Service.Infrastructure.Redis;

/// <summary>The one multiplexer every Redis user shares; connected once, on first use, and reconnecting by itself.</summary>
public sealed class RedisConnection(IOptions<RedisOptions> options) : IAsyncDisposable
{
    private readonly Lock _gate = new();
    private Task<ConnectionMultiplexer>? _connecting;

    public async Task<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken) =>
        (await GetMultiplexerAsync(cancellationToken)).GetDatabase();

    public Task<ConnectionMultiplexer> GetMultiplexerAsync(CancellationToken cancellationToken)
    {
        Task<ConnectionMultiplexer> connecting;
        lock (_gate)
        {
            // AbortOnConnectFail=false: this completes even while Redis is down, and the multiplexer keeps
            // reconnecting. A caller that stops waiting (timeout) does not start a second connection.
            if (_connecting is null || _connecting.IsFaulted) _connecting = ConnectionMultiplexer.ConnectAsync(options.Value.ToConfiguration());
            connecting = _connecting;
        }
        return connecting.WaitAsync(cancellationToken);
    }

    /// <summary>For libraries that take a multiplexer. RedisWarmup connects before the port opens, so this does not wait afterwards.</summary>
    public IConnectionMultiplexer Multiplexer => GetMultiplexerAsync(CancellationToken.None).GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        Task<ConnectionMultiplexer>? connecting;
        lock (_gate) connecting = _connecting;
        if (connecting is { IsCompletedSuccessfully: true }) await connecting.Result.CloseAsync(allowCommandsToComplete: false);
    }
}
