using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Audit;
using Service.Infrastructure.Database;
using Service.Infrastructure.Redis;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.FeatureFlags;

/// <summary>
/// Operator verbs on the service executable, for when the admin API is out of reach. They write the same table,
/// the same audit record and the same Redis announcement as the API.
/// Exit code 0 on success, 1 when the database fails, 2 for a usage or settings error.
/// </summary>
public static class FeatureFlagCommand
{
    public const string Usage = """
        usage:
          features list [--json]
              every flag: value, where it comes from (override, database, default), kind, last change
          features set <name> on|off --reason "why" [--by "who"] [--targeting '{"users":[],"groups":[{"name":"<orgId>","rolloutPercentage":50}],"defaultRolloutPercentage":0}']
              change a flag on every instance; --by defaults to the OS user and host
        """;

    public static bool Matches(string[] args) => args.Length > 0 && args[0] == "features";

    public static async Task<int> RunAsync(string[] args, IConfiguration configuration, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var command = Parse(args[1..], out var usageError);
        if (command is null)
        {
            if (usageError is not null) await error.WriteLineAsync($"features: {usageError}");
            await error.WriteLineAsync(Usage);
            return 2;
        }

        var database = configuration.ReadValidated(DatabaseOptions.Section, new DatabaseOptionsValidator(), out var databaseProblems);
        var flags = configuration.ReadValidated(FeatureFlagOptions.Section, new FeatureFlagOptionsValidator(), out var flagProblems);
        if (databaseProblems.Count + flagProblems.Count > 0)
        {
            foreach (var problem in databaseProblems.Concat(flagProblems)) await error.WriteLineAsync(problem);
            return 2;
        }

        await using var dataSource = NpgsqlDataSource.Create(database.ToConnectionString());
        var store = new FeatureFlagStore(dataSource, new AuditLog(new HttpContextAccessor()));
        try
        {
            return command switch
            {
                ListCommand list => await ListAsync(store, flags, list.Json, output, cancellationToken),
                SetCommand set => await SetAsync(store, set, configuration, flags, output, error, cancellationToken),
                _ => 2,
            };
        }
        catch (NpgsqlException e)
        {
            await error.WriteLineAsync($"features: database error: {(e is PostgresException pg ? $"{pg.SqlState} {pg.MessageText}" : e.Message)}");
            return 1;
        }
    }

    private static async Task<int> ListAsync(FeatureFlagStore store, FeatureFlagOptions options, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        var states = FeatureFlagState.ResolveAll(await store.ReadAllAsync(cancellationToken), options.ForcedValues());
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(new { items = states.Select(FeatureFlagResponse.From) }, JsonSerializerOptions.Web));
            return 0;
        }
        await output.WriteLineAsync($"{"NAME",-18} {"KIND",-11} {"VALUE",-6} {"SOURCE",-9} {"CHANGED (UTC)",-17} {"BY",-24} REASON");
        foreach (var state in states)
        {
            var change = state.Stored;
            var value = state.Enabled ? (state.Targeting is null ? "on" : "target") : "off";
            await output.WriteLineAsync($"{state.Flag.Name,-18} {state.Flag.KindName,-11} {value,-6} {state.Source,-9} " +
                $"{change?.UpdatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm") ?? "-",-17} {change?.UpdatedBy ?? "-",-24} {change?.Reason ?? "-"}");
        }
        return 0;
    }

    private static async Task<int> SetAsync(FeatureFlagStore store, SetCommand set, IConfiguration configuration, FeatureFlagOptions options,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var flag = FeatureFlagCatalog.Find(set.Name);
        if (flag is null)
        {
            await error.WriteLineAsync($"features: no flag named '{set.Name}'. Flags: {string.Join(", ", FeatureFlagCatalog.All.Select(f => f.Name))}.");
            return 2;
        }
        FeatureTargeting? targeting = null;
        if (set.TargetingJson is not null)
        {
            try
            {
                targeting = JsonSerializer.Deserialize<FeatureTargeting>(set.TargetingJson, JsonSerializerOptions.Web);
            }
            catch (JsonException e)
            {
                await error.WriteLineAsync($"features: --targeting is not valid JSON: {e.Message}");
                return 2;
            }
        }
        var problems = FeatureFlagChange.Validate(flag, set.Reason, targeting);
        if (problems.Count > 0)
        {
            foreach (var (field, messages) in problems) await error.WriteLineAsync($"features: {(field == "reason" ? "--reason" : field)}: {string.Join(" ", messages)}");
            return 2;
        }

        var by = set.By ?? $"{Environment.UserName}@{Environment.MachineName}";
        var actor = new FeatureFlagActor("operator", by, $"cli:{by}");
        var (previous, current) = await store.SetAsync(new FeatureFlagChange(flag, set.Enabled, targeting, set.Reason!), actor, cancellationToken);
        await output.WriteLineAsync($"{flag.Name}: {(previous?.Enabled ?? flag.SafeDefault ? "on" : "off")} -> {(current.Enabled ? "on" : "off")} (reason: {current.Reason})");

        var forced = options.ForcedValues();
        if (forced.TryGetValue(flag.Name, out var forcedValue))
        {
            await output.WriteLineAsync($"note: FeatureFlags:Overrides:{flag.Name}={forcedValue.ToString().ToLowerInvariant()} is set in this configuration; instances with it keep that value.");
        }

        var redis = configuration.ReadValidated(RedisOptions.Section, new RedisOptionsValidator(), out var redisProblems);
        var announced = false;
        if (redisProblems.Count == 0)
        {
            await using var connection = new RedisConnection(Options.Create(redis));
            var notifier = new FeatureFlagNotifier(connection, Options.Create(options), Options.Create(redis), NullLogger<FeatureFlagNotifier>.Instance);
            announced = await notifier.PublishAsync(flag.Name, cancellationToken);
        }
        await output.WriteLineAsync(announced
            ? "Announced on Redis: running instances reload within a second."
            : $"Redis unreachable: running instances pick the change up within {options.PollIntervalSeconds} s.");
        return 0;
    }

    private abstract record Command;
    private sealed record ListCommand(bool Json) : Command;
    private sealed record SetCommand(string Name, bool Enabled, string? Reason, string? By, string? TargetingJson) : Command;

    private static Command? Parse(string[] args, out string? problem)
    {
        problem = null;
        switch (args)
        {
            case ["list"]: return new ListCommand(false);
            case ["list", "--json"]: return new ListCommand(true);
            case ["set", var name, var value, .. var rest]:
                bool enabled;
                if (value is "on" or "true") enabled = true;
                else if (value is "off" or "false") enabled = false;
                else
                {
                    problem = $"the value must be on or off, not '{value}'.";
                    return null;
                }
                var options = new Dictionary<string, string>();
                for (var i = 0; i < rest.Length; i += 2)
                {
                    if (rest[i] is not ("--reason" or "--by" or "--targeting") || i + 1 >= rest.Length)
                    {
                        problem = $"unexpected '{rest[i]}'.";
                        return null;
                    }
                    options[rest[i]] = rest[i + 1];
                }
                if (!options.ContainsKey("--reason"))
                {
                    problem = "--reason \"why\" is required: the audit log and the next operator need it.";
                    return null;
                }
                return new SetCommand(name, enabled, options["--reason"], options.GetValueOrDefault("--by"), options.GetValueOrDefault("--targeting"));
            default:
                return null;
        }
    }
}
