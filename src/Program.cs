using Service.Features.Health;
using Service.Infrastructure;
using Service.Infrastructure.Database.Migrations;
using Service.Infrastructure.Http;
using Service.Infrastructure.Settings;

var isMigrateCommand = MigrationCommand.Matches(args);
var builder = WebApplication.CreateBuilder(AppConfiguration.CreateOptions(isMigrateCommand ? [] : args));
AppConfiguration.AddFlatSettings(builder.Configuration, builder.Environment);

if (isMigrateCommand)
{
    return await MigrationCommand.RunAsync(args, builder.Configuration, Console.Out, Console.Error, CancellationToken.None);
}

builder.AddInfrastructure();

var app = builder.Build();
app.UseHttpBasics();
app.MapOpenApi();
app.MapHealth();

return await app.RunGuardedAsync();

public partial class Program;
