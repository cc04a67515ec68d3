using Npgsql;

namespace Service.Infrastructure.Jobs;

/// <summary>
/// The loop of a background service that works in rounds on every instance (unlike <see cref="PeriodicJob"/>, which
/// runs on one instance at a time): each round says how long to wait before the next (zero: at once, more is waiting).
/// A round that meets an unavailable database is retried after <c>onFailure</c> with a warning; any other failure is a
/// bug, logged as an error, and the loop goes on, so that one bad round never stops the host.
/// </summary>
public static class PollingLoop
{
    public static async Task RunAsync(string title, Func<CancellationToken, Task<TimeSpan>> round, TimeSpan onFailure, ILogger logger,
        CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = onFailure;
            try
            {
                wait = await round(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (NpgsqlException e)
            {
                logger.LogWarning("{Loop} paused for a moment: the database is unavailable ({Error})", title, e.GetType().Name);
            }
            catch (Exception e)
            {
                logger.LogError(e, "{Loop}: a round failed", title);
            }
            if (wait > TimeSpan.Zero) await Task.Delay(wait, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
