using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Service.Infrastructure.FeatureFlags;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.RateLimiting;

namespace Service.Tests.Fixtures;

public sealed record TestEchoRequest(
    [property: Required, StringLength(10)] string? Name,
    [property: Range(1, 5)] int Count);

public sealed record TestNotifyRequest(Guid[] UserIds, int Count = 1, Guid? OrgId = null, string? Type = null, string? Title = null, bool Publish = true);

/// <summary>
/// Endpoints that exist only in tests, mapped into the real pipeline (same middleware, validation and error
/// handling as product endpoints) to exercise what no product endpoint triggers on purpose: a crash, a slow answer.
/// </summary>
public sealed class TestEndpoints : IStartupFilter
{
    public const string SecretInException = "internal-detail-7f3a";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        next(app);
        // Set by the app's UseRouting: the WebApplication itself, so these join its endpoints before the first request.
        var endpoints = (IEndpointRouteBuilder)app.Properties["__EndpointRouteBuilder"]!;
        var group = endpoints.MapGroup("/test").AllowAnonymous().ExcludeFromDescription(); // not part of the product's API
        group.MapPost("/echo", (TestEchoRequest request) => TypedResults.Ok(request));
        group.MapGet("/throw", string () => throw new InvalidOperationException($"database password is {SecretInException}"));
        group.MapGet("/slow", async (int ms, CancellationToken ct) =>
        {
            await Task.Delay(ms, ct);
            return TypedResults.Ok(new { waited = ms });
        });
        // Cheap routes for rate-limit tests: the default "api" policy, and "ingest" (counted per API key).
        group.MapGet("/ping", () => TypedResults.Ok(new { pong = true }));
        group.MapGet("/ingest-ping", () => TypedResults.Ok(new { pong = true })).RequireRateLimit(RateLimitPolicies.Ingest);
        // Notifications as a slice makes them (Notifier in a transaction, published after commit), in bulk; and an
        // organization's event (the run.updated later features send), for the stream tests.
        group.MapPost("/notify", async (TestNotifyRequest request, Npgsql.NpgsqlDataSource dataSource, Notifier notifier, CancellationToken ct) =>
        {
            var ids = new List<long>();
            for (var i = 0; i < request.Count; i++)
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                await using var transaction = await connection.BeginTransactionAsync(ct);
                var events = await notifier.NotifyAsync(connection, transaction, request.UserIds, request.OrgId,
                    new NotificationDraft(request.Type ?? "test.notice", $"{request.Title ?? "Notice"} {i + 1}", null, new { n = i + 1 }), ct);
                await transaction.CommitAsync(ct);
                if (request.Publish) await notifier.PublishAsync(events);
                ids.AddRange(events.Select(e => e.Seq));
            }
            return TypedResults.Ok(new { ids });
        });
        group.MapPost("/orgs/{orgId:guid}/org-event", async (Guid orgId, Npgsql.NpgsqlDataSource dataSource, StreamPublisher publisher, CancellationToken ct) =>
        {
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var events = await StreamLog.AppendForOrgAsync(connection, transaction, orgId, StreamEventTypes.RunUpdated, JsonSerializer.Serialize(new { orgId, status = "running" }), ct);
            await transaction.CommitAsync(ct);
            await publisher.PublishAsync(events);
            return TypedResults.Ok(new { recipients = events.Count });
        });
        // Gated like product slices: a kill switch no product endpoint uses yet, and the release flag, whose
        // targeting sees the route's organization and the caller.
        group.MapGet("/kill-switch", () => TypedResults.Ok(new { pong = true })).RequireFeature(FeatureFlagCatalog.Workflows);
        group.MapGet("/orgs/{orgId:guid}/release", (Guid orgId) => TypedResults.Ok(new { orgId })).RequireFeature(FeatureFlagCatalog.Suggestions);
        // A crash with a cause, after a log line, in an organization's route for its members: what an error report
        // must carry (mapped outside the anonymous group so that the caller is known).
        endpoints.MapGet("/test/orgs/{orgId:guid}/throw", string (Guid orgId, HttpRequest request, ILogger<TestEndpoints> logger) =>
        {
            logger.LogInformation("Loading the report of {OrgId} for {Url}", orgId, $"{request.Path}{request.QueryString}");
            try
            {
                throw new FileNotFoundException("report.csv is missing");
            }
            catch (FileNotFoundException e)
            {
                throw new InvalidOperationException("The report could not be built", e);
            }
        }).RequireAuthorization(Service.Infrastructure.Security.AuthPolicies.OrgViewer).ExcludeFromDescription();
    };
}
