using Microsoft.Extensions.Configuration;
using Service.Infrastructure.Database.Migrations;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Database;

/// <summary>The operator verbs: `migrate`, `migrate --to N`, `migrate down --to N`, `migrate status`.</summary>
public sealed class MigrationCommandTests : IAsyncLifetime
{
    private static readonly IReadOnlyList<Migration> Shipped = MigrationCatalog.Embedded().Migrations;
    private string _database = "";

    public async Task InitializeAsync() => _database = await TestDatabases.CreateEmptyAsync();

    public Task DisposeAsync() => TestDatabases.DropAsync(_database);

    private async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => await RunWithUrlAsync(TestServers.DatabaseUrl(_database), args);

    private static async Task<(int Exit, string Out, string Err)> RunWithUrlAsync(string databaseUrl, params string[] args)
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Database:Url"] = databaseUrl }).Build();
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await MigrationCommand.RunAsync(["migrate", .. args], config, output, error, CancellationToken.None);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Status_migrate_and_down_round_trip()
    {
        var before = await RunAsync("status");
        Assert.Equal(0, before.Exit);
        Assert.Matches(@"0001\s+initial\s+pending", before.Out);

        var up = await RunAsync();
        Assert.Equal(0, up.Exit);
        Assert.Contains($"Applied {Shipped.Count}: 0001_initial, ", up.Out);

        var after = await RunAsync("status");
        Assert.Matches(@"0001\s+initial\s+applied\s+\d{4}-\d\d-\d\d", after.Out);

        var again = await RunAsync("--to", Shipped[^1].Version.ToString());
        Assert.Contains("up to date", again.Out);

        var down = await RunAsync("down", "--to", "0");
        Assert.Equal(0, down.Exit);
        Assert.Contains($"Reverted {Shipped.Count}: ", down.Out);
        Assert.EndsWith("0001_initial", down.Out.TrimEnd());
        Assert.Matches(@"0001\s+initial\s+pending", (await RunAsync("status")).Out);
    }

    [Theory]
    [InlineData("sideways")]
    [InlineData("--to")]
    [InlineData("--to", "x")]
    [InlineData("down")]
    [InlineData("down", "--to", "-1")]
    public async Task Wrong_arguments_print_usage_and_exit_2(params string[] args)
    {
        var result = await RunAsync(args);

        Assert.Equal(2, result.Exit);
        Assert.Contains("usage:", result.Err);
    }

    [Fact]
    public async Task An_unparsable_DATABASE_URL_is_named_without_its_password()
    {
        var result = await RunWithUrlAsync("postgres://app:s3cret-pw@db:notaport/x", "status");

        Assert.Equal(2, result.Exit);
        Assert.Contains("DATABASE_URL", result.Err);
        Assert.DoesNotContain("s3cret-pw", result.Err);
    }

    [Fact]
    public async Task A_tampered_database_refuses_with_exit_1()
    {
        await RunAsync();
        await using (var dataSource = TestDatabases.OpenDataSource(_database))
        await using (var command = dataSource.CreateCommand("UPDATE schema_migrations SET checksum = 'x'"))
        {
            await command.ExecuteNonQueryAsync();
        }

        var result = await RunAsync("down", "--to", "0");

        Assert.Equal(1, result.Exit);
        Assert.Contains("0001_initial", result.Err);
        Assert.Matches(@"0001\s+initial\s+MODIFIED", (await RunAsync("status")).Out);
    }

    [Fact]
    public async Task The_built_executable_runs_the_verbs()
    {
        var environment = new Dictionary<string, string> { ["DATABASE_URL"] = TestServers.DatabaseUrl(_database), ["ENVIRONMENT"] = "production" };

        await using (var migrate = ServiceProcess.Start(environment, "migrate"))
        {
            Assert.Equal(0, await migrate.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains($"Applied {Shipped.Count}: 0001_initial", migrate.Stdout);
        }
        await using var status = ServiceProcess.Start(environment, "migrate", "status");
        Assert.Equal(0, await status.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Matches(@"0001\s+initial\s+applied", status.Stdout);
    }
}
