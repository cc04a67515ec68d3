using Microsoft.Extensions.Options;
using Service.Infrastructure.Redis;
using StackExchange.Redis;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// Tells the instance running a run to stop it: this instance's worker at once, the others through Redis. Never
/// fails the caller: without Redis the holder still sees the request in PostgreSQL at its next lease renewal (0.5 s).
/// </summary>
public sealed partial class RunCancels(RunWorker worker, RedisConnection redis, IOptions<WorkflowOptions> options, IOptions<RedisOptions> redisOptions,
    ILogger<RunCancels> logger)
{
    public async Task AnnounceAsync(Guid runId)
    {
        worker.Cancel(runId);
        var timeout = TimeSpan.FromMilliseconds(redisOptions.Value.OperationTimeoutMilliseconds);
        try
        {
            var multiplexer = await redis.GetMultiplexerAsync(CancellationToken.None).WaitAsync(timeout);
            await multiplexer.GetSubscriber().PublishAsync(RedisChannel.Literal(options.Value.CancelChannel), runId.ToString()).WaitAsync(timeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            LogNotAnnounced(logger, runId, e.GetType().Name);
        }
    }

    [LoggerMessage(LogLevel.Warning, "The cancel of run {RunId} was not announced on Redis ({Error}); the running instance sees it in PostgreSQL within a second")]
    private static partial void LogNotAnnounced(ILogger logger, Guid runId, string error);
}
