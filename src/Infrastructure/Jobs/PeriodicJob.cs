using Dapper;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Observability;

namespace Service.Infrastructure.Jobs;

/// <summary>
/// A background job that wakes every interval on every instance and does its round on one instance at a time: the
/// round holds a PostgreSQL advisory lock named after the job (events.retention locks "events:retention"), on a
/// connection of the background pool that the round may use. Each round is a span and a run count; a round that
/// meets an unavailable dependency is skipped with a warning, any other failure is logged as an error.
/// </summary>
public abstract class PeriodicJob(IServiceProvider services, TimeProvider time, ILogger logger) : BackgroundService
{
    /// <summary>The job's name in spans and metrics, e.g. "events.retention".</summary>
    protected abstract string Name { get; }

    /// <summary>How log lines name the job, e.g. "Event retention".</summary>
    protected abstract string Title { get; }

    protected IServiceProvider Services => services;
    protected TimeProvider Time => time;
    protected ILogger Logger => logger;

    /// <summary>Read when the job starts, not when it is built: hosted services are built before the startup guard has checked the settings.</summary>
    protected abstract TimeSpan ReadInterval();

    /// <summary>A failure that skips the round with a warning rather than an error report.</summary>
    protected virtual bool IsUnavailable(Exception e, CancellationToken stoppingToken) => e is NpgsqlException;

    /// <summary>One round, while this instance holds the job's lock on <paramref name="connection"/>.</summary>
    protected abstract Task RunLockedAsync(NpgsqlConnection connection, CancellationToken cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataSource = services.GetRequiredKeyedService<NpgsqlDataSource>(DatabaseRegistration.Background);
        using var timer = new PeriodicTimer(ReadInterval(), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            using var run = ServiceDiagnostics.StartJob(Name);
            try
            {
                await RunOnceAsync(dataSource, stoppingToken);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (IsUnavailable(e, stoppingToken))
            {
                ServiceDiagnostics.JobFailed(Name, run, e);
                logger.LogWarning("{Job} skipped this round: a dependency is unavailable ({Error})", Title, e.GetType().Name);
            }
            catch (Exception e)
            {
                ServiceDiagnostics.JobFailed(Name, run, e);
                logger.LogError(e, "{Job} failed", Title);
            }
        }
    }

    /// <summary>
    /// Runs a DELETE of at most <paramref name="batch"/> rows (its own <c>LIMIT @batch</c>) until one deletes fewer:
    /// short statements, each committed on its own, so a large backlog never holds locks or bloats one transaction.
    /// </summary>
    protected static async Task<(long Deleted, int Statements)> DeleteInBatchesAsync(NpgsqlConnection connection, string sql, object parameters, int batch,
        CancellationToken cancellationToken)
    {
        long total = 0;
        var statements = 0;
        int deleted;
        do
        {
            deleted = await connection.ExecuteAsync(new CommandDefinition(sql, parameters, cancellationToken: cancellationToken));
            total += deleted;
            statements++;
        } while (deleted == batch);
        return (total, statements);
    }

    /// <summary>One round now, unless another instance is running one (then false).</summary>
    private async Task<bool> RunOnceAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var lockName = Name.Replace('.', ':');
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var locked = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT pg_try_advisory_lock(hashtextextended(@lockName, 0))", new { lockName }, cancellationToken: cancellationToken));
        if (!locked) return false;
        try
        {
            await RunLockedAsync(connection, cancellationToken);
            return true;
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(hashtextextended(@lockName, 0))", new { lockName });
        }
    }
}
