using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Database.Migrations;
using Microsoft.Extensions.Logging.Abstractions;

namespace Service.Tests.Fixtures;

/// <summary>
/// Each test class gets its own database: cloned from a template that has every migration applied (built once per
/// migration set), or empty for migration tests. Dropped when the class is done.
/// </summary>
public static class TestDatabases
{
    private static readonly SemaphoreSlim TemplateGate = new(1, 1);
    private static string? _template;

    public static async Task<string> CreateMigratedAsync()
    {
        var template = await EnsureTemplateAsync();
        var name = NewName();
        await AdminAsync($"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        return name;
    }

    public static async Task<string> CreateEmptyAsync()
    {
        var name = NewName();
        await AdminAsync($"CREATE DATABASE \"{name}\"");
        return name;
    }

    public static Task DropAsync(string name) => AdminAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");

    public static NpgsqlDataSource OpenDataSource(string database) =>
        NpgsqlDataSource.Create(DatabaseUrl.Parse(TestServers.DatabaseUrl(database)).ConnectionString);

    private static string NewName() => "test_" + Guid.NewGuid().ToString("N")[..16];

    private static async Task<string> EnsureTemplateAsync()
    {
        await TemplateGate.WaitAsync();
        try
        {
            if (_template is not null) return _template;
            var catalog = MigrationCatalog.Embedded();
            var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Text.Encoding.UTF8.GetBytes(string.Join(",", catalog.Migrations.Select(m => m.Checksum)))))[..12];
            var name = $"template_{hash}";
            var exists = await AdminScalarAsync($"SELECT count(*) FROM pg_database WHERE datname = '{name}'");
            if (exists == 0)
            {
                // Built under another name and renamed, so a run that dies half-way never leaves a broken template.
                var building = name + "_building";
                await AdminAsync($"DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)");
                await AdminAsync($"CREATE DATABASE \"{building}\"");
                await using (var dataSource = OpenDataSource(building))
                {
                    await new MigrationRunner(dataSource, catalog, NullLogger<MigrationRunner>.Instance).MigrateUpAsync(null, CancellationToken.None);
                }
                NpgsqlConnection.ClearAllPools();
                await AdminAsync($"ALTER DATABASE \"{building}\" RENAME TO \"{name}\"");
            }
            return _template = name;
        }
        finally
        {
            TemplateGate.Release();
        }
    }

    private static async Task AdminAsync(string sql)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var dataSource = NpgsqlDataSource.Create(DatabaseUrl.Parse(TestServers.PostgresAdminUrl).ConnectionString);
                await using var command = dataSource.CreateCommand(sql);
                await command.ExecuteNonQueryAsync();
                return;
            }
            // "source database is being accessed by other users": another class is cloning the template right now.
            catch (PostgresException e) when (e.SqlState == "55006" && attempt < 20)
            {
                await Task.Delay(100 * attempt);
            }
        }
    }

    private static async Task<long> AdminScalarAsync(string sql)
    {
        await using var dataSource = NpgsqlDataSource.Create(DatabaseUrl.Parse(TestServers.PostgresAdminUrl).ConnectionString);
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }
}
