using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Database;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>postgres://user:pass@host:port/db URL or an Npgsql key=value string (DATABASE_URL).</summary>
    [Required(ErrorMessage = "DATABASE_URL (Database:Url): is not set. Fix: set DATABASE_URL, e.g. postgres://app:secret@db.internal:5432/workflow.")]
    public string Url { get; set; } = "";

    /// <summary>Outside Production, apply pending migrations at startup instead of refusing to start.</summary>
    public bool AutoMigrate { get; set; } = true;

    [Range(1, 600, ErrorMessage = "Database:ConnectTimeoutSeconds (env Database__ConnectTimeoutSeconds): must be from 1 to 600. Fix: e.g. 5.")]
    public int ConnectTimeoutSeconds { get; set; } = 5;

    /// <summary>Background jobs and migrations: how long one command may run.</summary>
    [Range(1, 3600, ErrorMessage = "Database:CommandTimeoutSeconds (env Database__CommandTimeoutSeconds): must be from 1 to 3600. Fix: e.g. 30.")]
    public int CommandTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Requests: the longest one database call may keep a request waiting, a hung PostgreSQL included. Repeated
    /// failures then open the database circuit and requests answer 503 at once.
    /// </summary>
    [Range(3, 600, ErrorMessage = "Database:RequestTimeoutSeconds (env Database__RequestTimeoutSeconds): must be from 3 to 600. Fix: e.g. 5, 2 s above the slowest query a request runs.")]
    public int RequestTimeoutSeconds { get; set; } = 5;

    /// <summary>How long the database circuit stays open before one request may try PostgreSQL again.</summary>
    [Range(100, 60_000, ErrorMessage = "Database:BreakMilliseconds (env Database__BreakMilliseconds): must be from 100 to 60000. Fix: e.g. 1000.")]
    public int BreakMilliseconds { get; set; } = 1000;

    /// <summary>
    /// Statements Npgsql prepares automatically per connection once they are used twice (the hot queries skip
    /// planning). 0 turns it off, e.g. behind PgBouncer older than 1.21 in transaction mode.
    /// </summary>
    [Range(0, 1000, ErrorMessage = "Database:MaxAutoPrepare (env Database__MaxAutoPrepare): must be from 0 to 1000. Fix: e.g. 64, or 0 behind a pooler without prepared statement support.")]
    public int MaxAutoPrepare { get; set; } = 64;

    [ValidateObjectMembers]
    public PoolOptions Pool { get; set; } = new();

    public sealed class PoolOptions
    {
        [Range(0, 1000, ErrorMessage = "Database:Pool:MinSize (env Database__Pool__MinSize): must be from 0 to 1000. Fix: e.g. 0.")]
        public int MinSize { get; set; }

        [Range(1, 1000, ErrorMessage = "Database:Pool:MaxSize (env Database__Pool__MaxSize): must be from 1 to 1000. Fix: e.g. 50, and keep instances x MaxSize below the server's max_connections.")]
        public int MaxSize { get; set; } = 50;
    }

    /// <summary>
    /// The connection string of the request path, bounded by RequestTimeoutSeconds in all. When a command times out,
    /// Npgsql first sends PostgreSQL a cancel request over a new connection and waits for it, which against a hung
    /// server costs up to twice the connect timeout: so connecting gets 1 s, and commands the budget less 2 s.
    /// </summary>
    public NpgsqlConnectionStringBuilder ToRequestConnectionString()
    {
        var builder = ToConnectionString();
        builder.Timeout = RequestConnectTimeoutSeconds;
        builder.CommandTimeout = Math.Max(1, RequestTimeoutSeconds - 2 * RequestConnectTimeoutSeconds);
        builder.CancellationTimeout = -1; // once the cancel request is sent, close the connection without awaiting its outcome
        return builder;
    }

    private const int RequestConnectTimeoutSeconds = 1;

    /// <summary>The Npgsql connection string these settings describe (jobs, migrations, operator commands).</summary>
    public NpgsqlConnectionStringBuilder ToConnectionString()
    {
        var builder = DatabaseUrl.Parse(Url);
        builder.MinPoolSize = Pool.MinSize;
        builder.MaxPoolSize = Pool.MaxSize;
        builder.Timeout = ConnectTimeoutSeconds;
        builder.CommandTimeout = CommandTimeoutSeconds;
        builder.ApplicationName ??= "workflow-service";
        if (MaxAutoPrepare > 0)
        {
            builder.MaxAutoPrepare = MaxAutoPrepare;
            builder.AutoPrepareMinUsages = 2;
        }
        return builder;
    }
}

public sealed class DatabaseOptionsValidator : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        var failures = new List<string>();
        if (!string.IsNullOrWhiteSpace(options.Url) && !DatabaseUrl.TryParse(options.Url, out _, out var error))
        {
            failures.Add(new StartupProblem(FlatSettingNames.Describe("Database:Url"), $"cannot be parsed: {error}",
                "use postgres://user:password@host:5432/database (URL-encode special characters) or Host=...;Username=...;Database=...").ToString());
        }
        if (options.Pool.MinSize > options.Pool.MaxSize)
        {
            failures.Add(new StartupProblem("Database:Pool:MinSize (env Database__Pool__MinSize)",
                $"is {options.Pool.MinSize}, above Database:Pool:MaxSize ({options.Pool.MaxSize}).", "lower MinSize or raise MaxSize.").ToString());
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
