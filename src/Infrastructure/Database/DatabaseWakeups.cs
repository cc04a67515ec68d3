using Dapper;
using Npgsql;

namespace Service.Infrastructure.Database;

/// <summary>
/// LISTEN on a PostgreSQL channel for as long as the service runs, calling <c>wake</c> on each NOTIFY (delivered when
/// the notifying transaction commits). For workers that also poll: while the connection is down, only the
/// immediacy is lost, so the loop reconnects after <c>retry</c> and logs at debug level.
/// </summary>
public static class DatabaseWakeups
{
    public static async Task ListenAsync(NpgsqlDataSource dataSource, string channel, Action wake, TimeSpan retry, ILogger logger, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, _) => wake();
                await connection.ExecuteAsync(new CommandDefinition($"LISTEN {channel}", cancellationToken: stoppingToken));
                while (true) await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or IOException)
            {
                logger.LogDebug("Wake-ups on {Channel} lost their connection ({Error}); retrying", channel, e.GetType().Name);
                await Task.Delay(retry, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}
