using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Service.Infrastructure.Redis;

/// <summary>The one multiplexer every Redis user shares; connected on first use and reconnecting by itself.</summary>
public sealed class RedisConnection(IOptions<RedisOptions> options) : IAsyncDisposable
{
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;

    public TimeSpan OperationTimeout => TimeSpan.FromMilliseconds(options.Value.OperationTimeoutMilliseconds);

    public async Task<IDatabase> GetDatabaseAsync(CancellationToken cancellationToken) =>
        (await GetMultiplexerAsync(cancellationToken)).GetDatabase();

    public async Task<ConnectionMultiplexer> GetMultiplexerAsync(CancellationToken cancellationToken)
    {
        if (_multiplexer is { } ready) return ready;
        await _connectGate.WaitAsync(cancellationToken);
        try
        {
            // AbortOnConnectFail=false: this returns even while Redis is down and keeps reconnecting.
            return _multiplexer ??= await ConnectionMultiplexer.ConnectAsync(options.Value.ToConfiguration()).WaitAsync(cancellationToken);
        }
        finally
        {
            _connectGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is { } multiplexer) await multiplexer.CloseAsync(allowCommandsToComplete: false);
        _connectGate.Dispose();
    }
}
