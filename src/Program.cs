using Service.Features.Account;
using Service.Features.Admin;
using Service.Features.ApiKeys;
using Service.Features.Auth;
using Service.Features.Docs;
using Service.Features.Events;
using Service.Features.Health;
using Service.Features.Integrations;
using Service.Features.Notifications;
using Service.Features.Operator;
using Service.Features.Organizations;
using Service.Features.Overview;
using Service.Features.Patterns;
using Service.Features.Privacy;
using Service.Features.Suggestions;
using Service.Features.LiveStream;
using Service.Features.Uploads;
using Service.Features.Workflows;
using Service.Infrastructure;
using Service.Infrastructure.Database.Migrations;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Http;
using Service.Infrastructure.Settings;

var isOperatorCommand = MigrationCommand.Matches(args) || FeatureFlagCommand.Matches(args) || RotateSecrets.Matches(args);
var builder = WebApplication.CreateBuilder(AppConfiguration.CreateOptions(isOperatorCommand ? [] : args));
AppConfiguration.AddFlatSettings(builder.Configuration, builder.Environment);

if (MigrationCommand.Matches(args))
{
    return await MigrationCommand.RunAsync(args, builder.Configuration, Console.Out, Console.Error, CancellationToken.None);
}
if (FeatureFlagCommand.Matches(args))
{
    return await FeatureFlagCommand.RunAsync(args, builder.Configuration, Console.Out, Console.Error, CancellationToken.None);
}
if (RotateSecrets.Matches(args))
{
    return await RotateSecrets.RunAsync(args, builder.Configuration, builder.Environment, Console.Out, Console.Error, CancellationToken.None);
}

builder.AddInfrastructure();
builder.Services.AddUploads();
builder.Services.AddEvents();
builder.Services.AddIntegrations();
builder.Services.AddNotifications();
builder.Services.AddLiveStream();
builder.Services.AddWorkflows();
builder.Services.AddDocs();

var app = builder.Build();
app.UseHttpBasics();
app.MapDocs();
app.MapHealth();
app.MapAuth();
app.MapOrganizations();
app.MapApiKeys();
app.MapEvents();
app.MapUploads();
app.MapIntegrations();
app.MapNotifications();
app.MapLiveStream();
app.MapWorkflows();
app.MapPatterns();
app.MapSuggestions();
app.MapOverview();
app.MapPrivacy();
app.MapAccount();
app.MapAdmin();

return await app.RunGuardedAsync();

public partial class Program;
