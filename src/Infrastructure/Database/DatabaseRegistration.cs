using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Database.Migrations;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Database;

public static class DatabaseRegistration
{
    public static IServiceCollection AddDatabase(this IServiceCollection services)
    {
        services.AddValidatedOptions<DatabaseOptions>(DatabaseOptions.Section);
        services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();

        // Requests take their connections from one pooled data source with short timeouts (Dapper runs on them);
        // jobs and migrations from a small one of their own, whose commands may run longer.
        services.AddSingleton<DatabasePool>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            return Build(sp, options.ToRequestConnectionString(), sp.GetRequiredService<DatabasePool>().Name);
        });
        services.AddKeyedSingleton(Background, (sp, _) =>
        {
            var connection = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.ToConnectionString();
            connection.MaxPoolSize = Math.Min(connection.MaxPoolSize, BackgroundPoolSize);
            connection.MinPoolSize = 0;
            return Build(sp, connection, sp.GetRequiredService<DatabasePool>().Name + "-background");
        });
        services.AddSingleton<DatabaseCircuit>();

        services.AddSingleton(MigrationCatalog.Embedded());
        services.AddSingleton(sp => new MigrationRunner(
            sp.GetRequiredKeyedService<NpgsqlDataSource>(Background), sp.GetRequiredService<MigrationCatalog>(), sp.GetRequiredService<ILogger<MigrationRunner>>()));
        services.AddSingleton<IStartupCheck, MigrationStartupCheck>();
        services.AddHealthChecks()
            // SELECT 1 through the app's own data source, so the probe sees what requests see (pool included).
            .AddNpgSql(sp => sp.GetRequiredService<NpgsqlDataSource>(), name: "postgres", tags: ["ready"])
            .AddCheck<MigrationsHealthCheck>("migrations", tags: ["ready"])
            .AddCheck<DatabasePoolHealthCheck>("database_pool", tags: ["ready"]);
        return services;
    }

    /// <summary>The key of the data source for background jobs and migrations.</summary>
    public const string Background = "background";

    // Jobs run one statement at a time, one instance at a time (advisory locks); migrations use one connection; the
    // webhook delivery worker holds one for LISTEN and takes short ones to claim batches and record attempts.
    private const int BackgroundPoolSize = 10;

    private static NpgsqlDataSource Build(IServiceProvider services, NpgsqlConnectionStringBuilder connection, string name)
    {
        var builder = new NpgsqlDataSourceBuilder(connection.ConnectionString) { Name = name };
        builder.UseLoggerFactory(services.GetRequiredService<ILoggerFactory>());
        return builder.Build();
    }
}
