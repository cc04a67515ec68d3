using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Service.Infrastructure.Database.Migrations;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Database;

/// <summary>The runner against a fresh, empty database per test, with small migration sets written here.</summary>
public sealed class MigrationRunnerTests : IAsyncLifetime
{
    private string _database = "";
    private NpgsqlDataSource _dataSource = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabases.CreateEmptyAsync();
        _dataSource = TestDatabases.OpenDataSource(_database);
    }

    public async Task DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await TestDatabases.DropAsync(_database);
    }

    private static Dictionary<string, string> ThreeMigrations() => new()
    {
        ["0001_create_runs.sql"] = "CREATE TABLE runs (version int NOT NULL);",
        ["0001_create_runs.down.sql"] = "DROP TABLE runs;",
        ["0002_create_b.sql"] = "CREATE TABLE b (id int); INSERT INTO runs VALUES (2);",
        ["0002_create_b.down.sql"] = "DROP TABLE b; DELETE FROM runs WHERE version = 2;",
        ["0003_create_c.sql"] = "SELECT pg_sleep(0.2); CREATE TABLE c (id int); INSERT INTO runs VALUES (3);",
        ["0003_create_c.down.sql"] = "DROP TABLE c; DELETE FROM runs WHERE version = 3;",
    };

    private MigrationRunner Runner(Dictionary<string, string> files, NpgsqlDataSource? dataSource = null) =>
        new(dataSource ?? _dataSource, MigrationCatalog.FromFiles(files), NullLogger<MigrationRunner>.Instance);

    [Fact]
    public async Task Status_of_a_new_database_lists_everything_as_pending_without_creating_anything()
    {
        var status = await Runner(ThreeMigrations()).GetStatusAsync(CancellationToken.None);

        Assert.Equal([1L, 2L, 3L], status.Pending.Select(m => m.Version));
        Assert.False(await TableExistsAsync("schema_migrations"));
    }

    [Fact]
    public async Task Applies_everything_pending_in_order_and_records_each_with_its_checksum()
    {
        var runner = Runner(ThreeMigrations());

        var applied = await runner.MigrateUpAsync(null, CancellationToken.None);
        var status = await runner.GetStatusAsync(CancellationToken.None);

        Assert.Equal([1L, 2L, 3L], applied.Select(m => m.Version));
        Assert.True(status.UpToDate);
        Assert.All(status.Known, s => Assert.Equal(s.Migration.Checksum, s.Applied!.Checksum));
        Assert.True(await TableExistsAsync("c"));
        Assert.Empty(await runner.MigrateUpAsync(null, CancellationToken.None));
    }

    [Fact]
    public async Task To_applies_only_up_to_the_given_version()
    {
        var runner = Runner(ThreeMigrations());

        await runner.MigrateUpAsync(2, CancellationToken.None);
        var status = await runner.GetStatusAsync(CancellationToken.None);

        Assert.Equal([3L], status.Pending.Select(m => m.Version));
        Assert.True(await TableExistsAsync("b"));
        Assert.False(await TableExistsAsync("c"));
    }

    [Fact]
    public async Task Down_reverts_newest_first_to_the_given_version()
    {
        var runner = Runner(ThreeMigrations());
        await runner.MigrateUpAsync(null, CancellationToken.None);

        var reverted = await runner.MigrateDownAsync(1, CancellationToken.None);
        var status = await runner.GetStatusAsync(CancellationToken.None);

        Assert.Equal([3L, 2L], reverted.Select(m => m.Version));
        Assert.Equal([2L, 3L], status.Pending.Select(m => m.Version));
        Assert.False(await TableExistsAsync("b"));
        Assert.True(await TableExistsAsync("runs"));
    }

    [Fact]
    public async Task Down_refuses_before_reverting_anything_when_a_down_script_is_missing()
    {
        var files = ThreeMigrations();
        files.Remove("0002_create_b.down.sql");
        var runner = Runner(files);
        await runner.MigrateUpAsync(null, CancellationToken.None);

        var refused = await Assert.ThrowsAsync<MigrationException>(() => runner.MigrateDownAsync(0, CancellationToken.None));

        Assert.Contains("0002_create_b", refused.Message);
        Assert.True((await runner.GetStatusAsync(CancellationToken.None)).UpToDate);
        Assert.True(await TableExistsAsync("c")); // 0003 has a down script, yet nothing was reverted
    }

    [Fact]
    public async Task A_migration_edited_after_it_was_applied_is_detected_and_blocks_further_migrations()
    {
        await Runner(ThreeMigrations()).MigrateUpAsync(2, CancellationToken.None);
        var edited = ThreeMigrations();
        edited["0001_create_runs.sql"] = "CREATE TABLE runs (version bigint NOT NULL);";
        var runner = Runner(edited);

        var status = await runner.GetStatusAsync(CancellationToken.None);
        var refused = await Assert.ThrowsAsync<MigrationException>(() => runner.MigrateUpAsync(null, CancellationToken.None));

        Assert.Equal("0001_create_runs", Assert.Single(status.Mismatched).Migration.Label);
        Assert.Contains("0001_create_runs", refused.Message);
        Assert.False(await TableExistsAsync("c"));
    }

    [Fact]
    public async Task Line_endings_do_not_count_as_an_edit()
    {
        var files = ThreeMigrations();
        files["0001_create_runs.sql"] = "CREATE TABLE runs (\n version int NOT NULL\n);";
        await Runner(files).MigrateUpAsync(null, CancellationToken.None);
        files["0001_create_runs.sql"] = "CREATE TABLE runs (\r\n version int NOT NULL\r\n);";

        Assert.Empty((await Runner(files).GetStatusAsync(CancellationToken.None)).Mismatched);
    }

    [Fact]
    public async Task A_migration_applied_but_unknown_to_the_build_is_reported()
    {
        await Runner(ThreeMigrations()).MigrateUpAsync(null, CancellationToken.None);
        var older = ThreeMigrations();
        older.Remove("0003_create_c.sql");
        older.Remove("0003_create_c.down.sql");

        var status = await Runner(older).GetStatusAsync(CancellationToken.None);

        Assert.Equal("0003_create_c", Assert.Single(status.UnknownApplied).Label);
        Assert.Empty(status.Pending);
    }

    [Fact]
    public async Task A_failing_migration_leaves_no_trace_and_stops_the_run()
    {
        var files = ThreeMigrations();
        files["0002_create_b.sql"] = "CREATE TABLE b (id int); SELECT 1/0;";
        var runner = Runner(files);

        await Assert.ThrowsAsync<PostgresException>(() => runner.MigrateUpAsync(null, CancellationToken.None));
        var status = await runner.GetStatusAsync(CancellationToken.None);

        Assert.Equal([2L, 3L], status.Pending.Select(m => m.Version));
        Assert.False(await TableExistsAsync("b"));
    }

    [Fact]
    public async Task Runners_started_at_once_apply_each_migration_exactly_once()
    {
        var dataSources = Enumerable.Range(0, 4).Select(_ => TestDatabases.OpenDataSource(_database)).ToList();
        try
        {
            var results = await Task.WhenAll(dataSources.Select(ds => Task.Run(() => Runner(ThreeMigrations(), ds).MigrateUpAsync(null, CancellationToken.None))));

            Assert.Equal([1L, 2L, 3L], results.SelectMany(r => r).Select(m => m.Version).Order());
            await using var connection = await _dataSource.OpenConnectionAsync();
            Assert.Equal([2, 3], (await connection.QueryAsync<int>("SELECT version FROM runs ORDER BY version")).ToList());
            Assert.Equal(3, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM schema_migrations"));
        }
        finally
        {
            foreach (var ds in dataSources) await ds.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_shipped_migrations_apply_revert_and_apply_again()
    {
        var runner = new MigrationRunner(_dataSource, MigrationCatalog.Embedded(), NullLogger<MigrationRunner>.Instance);

        await runner.MigrateUpAsync(null, CancellationToken.None);
        Assert.True(await TableExistsAsync("audit_log"));
        await runner.MigrateDownAsync(0, CancellationToken.None);
        Assert.False(await TableExistsAsync("audit_log"));
        await runner.MigrateUpAsync(null, CancellationToken.None);

        Assert.True((await runner.GetStatusAsync(CancellationToken.None)).UpToDate);
        Assert.All(runner.Catalog.Migrations, m => Assert.NotNull(m.DownSql));
    }

    [Theory]
    [InlineData("1_short.sql")]
    [InlineData("0001-dash.sql")]
    [InlineData("0001_Upper.sql")]
    public void Badly_named_files_are_rejected(string file)
    {
        Assert.Throws<MigrationException>(() => MigrationCatalog.FromFiles(new Dictionary<string, string> { [file] = "SELECT 1" }));
    }

    private async Task<bool> TableExistsAsync(string table)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<bool>("SELECT to_regclass(@table) IS NOT NULL", new { table });
    }
}
