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
            if (_connecting is null || _connecting.IsFaulted) _connecting = ConnectAsync(options.Value.ToConfiguration());
            connecting = _connecting;
        }
        return connecting.WaitAsync(cancellationToken);
    }

    private static async Task<ConnectionMultiplexer> ConnectAsync(ConfigurationOptions configuration)
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration);
        // This client version otherwise completes async calls one after another on a single thread, so under load
        // every awaiting request continues serially there. Our calls are independent: let them complete in parallel.
#pragma warning disable CS0618
        multiplexer.PreserveAsyncOrder = false;
#pragma warning restore CS0618
        return multiplexer;
    }

    public async ValueTask DisposeAsync()
    {
        Task<ConnectionMultiplexer>? connecting;
        lock (_gate) connecting = _connecting;
        if (connecting is { IsCompletedSuccessfully: true }) await connecting.Result.CloseAsync(allowCommandsToComplete: false);
    }
}
