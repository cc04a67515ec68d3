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

        // One pooled data source for the whole app; Dapper runs on connections taken from it.
        services.AddSingleton<DatabasePool>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var builder = new NpgsqlDataSourceBuilder(options.ToConnectionString().ConnectionString) { Name = sp.GetRequiredService<DatabasePool>().Name };
            builder.UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>());
            return builder.Build();
        });

        services.AddSingleton(MigrationCatalog.Embedded());
        services.AddSingleton<MigrationRunner>();
        services.AddSingleton<IStartupCheck, MigrationStartupCheck>();
        services.AddHealthChecks()
            // SELECT 1 through the app's own data source, so the probe sees what requests see (pool included).
            .AddNpgSql(sp => sp.GetRequiredService<NpgsqlDataSource>(), name: "postgres", tags: ["ready"])
            .AddCheck<MigrationsHealthCheck>("migrations", tags: ["ready"])
            .AddCheck<DatabasePoolHealthCheck>("database_pool", tags: ["ready"]);
        return services;
    }
}
