using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Database.Migrations;

/// <summary>
/// Before the port opens: a tampered migration refuses everywhere; pending or unknown-applied migrations refuse in
/// Production; elsewhere pending ones are applied when Database:AutoMigrate is on.
/// </summary>
public sealed class MigrationStartupCheck(
    MigrationRunner runner,
    IOptions<DatabaseOptions> options,
    IHostEnvironment environment,
    ILogger<MigrationStartupCheck> logger) : IStartupCheck
{
    private const string Setting = "Database migrations";
    private const string MigrateCommand = "`dotnet Service.dll migrate` (from a checkout: `dotnet run -- migrate`) with the same DATABASE_URL";

    public async Task<IReadOnlyList<StartupProblem>> CheckAsync(CancellationToken cancellationToken)
    {
        MigrationStatus status;
        try
        {
            status = await runner.GetStatusAsync(cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return [new StartupProblem(FlatSettingNames.Describe("Database:Url"),
                $"the database cannot be reached to verify migrations ({Describe(e)}).",
                "check that PostgreSQL is running and that DATABASE_URL points at it (host, port, credentials, database).")];
        }

        var problems = new List<StartupProblem>();
        foreach (var state in status.Mismatched)
        {
            problems.Add(new StartupProblem(Setting,
                $"applied migration {state.Migration.Label} no longer matches its file (checksum {Short(state.Applied!.Checksum)} in the database, {Short(state.Migration.Checksum)} in this build).",
                "restore the migration file as it was applied; put further changes in a new migration."));
        }

        var production = environment.IsProduction();
        if (status.UnknownApplied.Count > 0)
        {
            var labels = string.Join(", ", status.UnknownApplied.Select(u => u.Label));
            if (production)
            {
                problems.Add(new StartupProblem(Setting, $"the database has migrations this build does not know: {labels}.",
                    "deploy the build that contains them, or revert them with that build's `migrate down --to N`."));
            }
            else
            {
                logger.LogWarning("The database has migrations this build does not know: {Migrations}", labels);
            }
        }

        var pending = status.Pending;
        if (pending.Count > 0 && problems.Count == 0)
        {
            if (production)
            {
                problems.Add(new StartupProblem(Setting,
                    $"{pending.Count} pending: {string.Join(", ", pending.Select(m => $"{m.Version:D4} {m.Name}"))}.",
                    $"apply them with {MigrateCommand}, then start the service."));
            }
            else if (options.Value.AutoMigrate)
            {
                await runner.MigrateUpAsync(null, cancellationToken);
            }
            else
            {
                logger.LogWarning("{Count} pending migrations and Database:AutoMigrate is off; run `dotnet run -- migrate`", pending.Count);
            }
        }
        return problems;
    }

    private static string Short(string checksum) => checksum[..12];

    private static string Describe(Exception e) => e switch
    {
        PostgresException pg => $"server error {pg.SqlState}",
        _ when e.InnerException is System.Net.Sockets.SocketException s => s.SocketErrorCode.ToString(),
        _ => e.GetType().Name,
    };
}
