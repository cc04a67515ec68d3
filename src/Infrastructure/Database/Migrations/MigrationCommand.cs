using Npgsql;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Database.Migrations;

/// <summary>
/// Operator verbs on the service executable:
/// <c>migrate</c>, <c>migrate --to N</c>, <c>migrate down --to N</c>, <c>migrate status</c>.
/// Exit code 0 on success, 1 when the database refuses, 2 for a usage or settings error.
/// </summary>
public static class MigrationCommand
{
    public const string Usage = """
        usage:
          migrate                 apply every pending migration
          migrate --to N          apply pending migrations up to version N
          migrate down --to N     revert applied migrations above version N, newest first
          migrate status          list every migration: applied or pending
        """;

    public static bool Matches(string[] args) => args.Length > 0 && args[0] == "migrate";

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var verb = ParseVerb(args[1..]);
        if (verb is null)
        {
            await error.WriteLineAsync(Usage);
            return 2;
        }

        var options = configuration.ReadValidated(DatabaseOptions.Section, new DatabaseOptionsValidator(), out var problems);
        if (problems.Count > 0)
        {
            foreach (var problem in problems) await error.WriteLineAsync(problem);
            return 2;
        }

        await using var dataSource = NpgsqlDataSource.Create(options.ToConnectionString());
        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
        var runner = new MigrationRunner(dataSource, MigrationCatalog.Embedded(), loggerFactory.CreateLogger<MigrationRunner>());
        try
        {
            switch (verb)
            {
                case { Name: "status" }:
                    await WriteStatusAsync(await runner.GetStatusAsync(cancellationToken), output);
                    return 0;
                case { Name: "down", To: var to }:
                    var reverted = await runner.MigrateDownAsync(to!.Value, cancellationToken);
                    await output.WriteLineAsync(reverted.Count == 0 ? $"Nothing to revert above version {to}." : $"Reverted {reverted.Count}: {string.Join(", ", reverted.Select(m => m.Label))}");
                    return 0;
                case { Name: "up", To: var upTo }:
                    var applied = await runner.MigrateUpAsync(upTo, cancellationToken);
                    await output.WriteLineAsync(applied.Count == 0 ? "Database is up to date." : $"Applied {applied.Count}: {string.Join(", ", applied.Select(m => m.Label))}");
                    return 0;
            }
        }
        catch (MigrationException e)
        {
            await error.WriteLineAsync($"migrate: refused: {e.Message}");
            return 1;
        }
        catch (NpgsqlException e)
        {
            await error.WriteLineAsync($"migrate: database error: {(e is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : e.Message)}");
            return 1;
        }
        return 2;
    }

    private sealed record Verb(string Name, long? To);

    private static Verb? ParseVerb(string[] rest)
    {
        static long? ReadTo(string[] a) => a.Length == 2 && a[0] == "--to" && long.TryParse(a[1], out var n) && n >= 0 ? n : null;
        return rest switch
        {
            [] => new Verb("up", null),
            ["status"] => new Verb("status", null),
            ["--to", _] when ReadTo(rest) is { } to => new Verb("up", to),
            ["down", "--to", _] when ReadTo(rest[1..]) is { } to => new Verb("down", to),
            _ => null,
        };
    }

    public static async Task WriteStatusAsync(MigrationStatus status, TextWriter output)
    {
        await output.WriteLineAsync($"{"version",-8} {"name",-40} {"state",-9} applied_at");
        foreach (var state in status.Known)
        {
            var label = state.ChecksumMismatch ? "MODIFIED" : state.IsApplied ? "applied" : "pending";
            var at = state.Applied?.AppliedAt.ToString("u") ?? "";
            await output.WriteLineAsync($"{state.Migration.Version,-8:D4} {state.Migration.Name,-40} {label,-9} {at}");
        }
        foreach (var unknown in status.UnknownApplied)
        {
            await output.WriteLineAsync($"{unknown.Version,-8:D4} {unknown.Name,-40} {"UNKNOWN",-9} {unknown.AppliedAt:u}");
        }
    }
}
