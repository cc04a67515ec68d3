using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Npgsql;
using Service.Infrastructure.Database;
using Service.Infrastructure.Security;
using Service.Infrastructure.Streaming;

namespace Service.Features.LiveStream;

/// <summary>
/// The caller's live stream (Server-Sent Events): their notifications and the events of the organizations they belong
/// to. Resumes after Last-Event-ID (header, or lastEventId in the query for a new EventSource) with what was missed.
/// </summary>
public static class OpenStream
{
    public const string LastEventIdHeader = "Last-Event-ID";

    public static void Map(RouteGroupBuilder group) =>
        group.MapGet("/", Handle)
            .WithName("OpenStream")
            .WithSummary("Open the live event stream (text/event-stream)")
            .WithDescription("Authenticate with a bearer token or ?ticket= from POST /api/v1/stream/tickets. Events: stream.open, " +
                "notification.created, run.updated, suggestion.created, delivery.failed, stream.reset, stream.closed; comment heartbeats.")
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                // The ticket is read by its authentication scheme and the header by the handler: neither is a bound parameter.
                operation.Parameters ??= [];
                if (operation.Parameters.FirstOrDefault(p => p.Name == "lastEventId") is OpenApiParameter query)
                {
                    query.Description = "The same as Last-Event-ID, for a new EventSource, which cannot send the header.";
                }
                operation.Parameters.Add(Parameter("ticket", ParameterLocation.Query, "A one-time ticket from POST /api/v1/stream/tickets, for EventSource (instead of a bearer token)."));
                operation.Parameters.Add(Parameter(LastEventIdHeader, ParameterLocation.Header, "The id of the last event received: what came after it is replayed first."));
                operation.Responses!["200"] = new OpenApiResponse
                {
                    Description = "Server-Sent Events, until the client leaves or the server ends the stream (stream.closed).",
                    Content = new Dictionary<string, OpenApiMediaType> { ["text/event-stream"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                };
                return Task.CompletedTask;
            })
            // Hours long: outside the database circuit, whose outcome statistics are per request. Its own reads
            // (resume, catch-up) fail as 503 or retry at the next sweep.
            .WithoutDatabaseCircuit()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    public static async Task<Results<EmptyHttpResult, ProblemHttpResult>> Handle(
        HttpContext context, string? lastEventId, ClaimsPrincipal user, StreamHub hub, StreamSlots slots, NpgsqlDataSource dataSource,
        IOptions<StreamOptions> options, TimeProvider time, CancellationToken cancellationToken)
    {
        var resumeFrom = context.Request.Headers[LastEventIdHeader] is { Count: > 0 } header ? header.ToString() : lastEventId;
        long? after = null;
        if (!string.IsNullOrEmpty(resumeFrom))
        {
            if (!long.TryParse(resumeFrom, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid Last-Event-ID",
                    detail: "Last-Event-ID must be the id of an event from this stream (a non-negative integer); leave it out to start from now.");
            }
            after = value;
        }
        if (hub.IsStopping) return ShuttingDown(context.Response);

        var userId = user.RequiredUserId();
        var stream = new StreamConnection(userId, user.ExpiresAt(), dataSource);
        if (await slots.TryAcquireAsync(userId, stream.Id, hub.CountFor(userId), cancellationToken) is { } wait)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many open streams",
                detail: $"At most {options.Value.MaxStreamsPerUser} streams may be open per user; close one (another tab?) first.");
        }
        if (!hub.TryAdd(stream))
        {
            await slots.ReleaseAsync(stream);
            return ShuttingDown(context.Response);
        }

        try
        {
            var response = context.Response;
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-cache, no-store";
            response.Headers["X-Accel-Buffering"] = "no"; // nginx and friends: pass each event on at once
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            await stream.OpenAsync(response.BodyWriter, after, options.Value, time.GetUtcNow().UtcDateTime, cancellationToken);
            await stream.PumpAsync(response.BodyWriter, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the client went away
        }
        finally
        {
            hub.Remove(stream);
            await slots.ReleaseAsync(stream);
        }
        return TypedResults.Empty;
    }

    private static OpenApiParameter Parameter(string name, ParameterLocation location, string description) =>
        new() { Name = name, In = location, Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } };

    private static ProblemHttpResult ShuttingDown(HttpResponse response)
    {
        response.Headers.RetryAfter = "1";
        return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Instance shutting down",
            detail: "This instance is shutting down; reconnect and another one will serve the stream.");
    }
}
