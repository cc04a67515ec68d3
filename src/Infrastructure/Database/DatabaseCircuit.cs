using System.Globalization;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Service.Infrastructure.Http;
using Service.Infrastructure.Resilience;

namespace Service.Infrastructure.Database;

/// <summary>
/// A circuit breaker over the request path's database work. Each request that may need PostgreSQL runs through it;
/// requests that failed because PostgreSQL timed out, refused or dropped connections (the failures answered 503)
/// count against it. Once they dominate its window it opens: requests answer 503 with Retry-After at once, without
/// waiting on a hung server, for Database:BreakMilliseconds; then one request tries PostgreSQL again (half-open)
/// and closes it on success. Probes, the OpenAPI document and the API reference never pass through it.
/// </summary>
public sealed class DatabaseCircuit
{
    private readonly ResiliencePipeline _pipeline;

    public DatabaseCircuit(IOptions<DatabaseOptions> options, DependencyPipelines pipelines)
    {
        var settings = options.Value;
        var timeout = TimeSpan.FromSeconds(settings.RequestTimeoutSeconds);
        // No timeout of the pipeline's own: Npgsql's command and connect timeouts bound each call, and an upload
        // may rightly take minutes. A window no longer than that timeout lets a busy service notice a hang (see Sampling).
        _pipeline = pipelines.Build(new DependencyPolicy("postgres", Timeout: null, TimeSpan.FromMilliseconds(settings.BreakMilliseconds),
            MinimumThroughput: 3, (e, _) => UnhandledExceptionHandler.TransientDatabaseFailure(e) is not null, Sampling: timeout), State);
    }

    /// <summary>Closed while PostgreSQL answers; open while requests are refused without trying it.</summary>
    public CircuitBreakerStateProvider State { get; } = new();

    public ValueTask RunAsync(Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken) =>
        _pipeline.ExecuteAsync(work, cancellationToken);
}

/// <summary>Endpoint metadata: this endpoint never needs the database circuit (it touches no database, or is a probe).</summary>
public sealed class WithoutDatabaseCircuitMetadata
{
    public static readonly WithoutDatabaseCircuitMetadata Instance = new();
}

public static class DatabaseCircuitEndpoints
{
    public static TBuilder WithoutDatabaseCircuit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(WithoutDatabaseCircuitMetadata.Instance);
}

/// <summary>Runs each routed request that may need the database through <see cref="DatabaseCircuit"/>; 503 while it is open.</summary>
public sealed class DatabaseCircuitMiddleware(RequestDelegate next, DatabaseCircuit circuit, IProblemDetailsService problems)
{
    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is not { } endpoint || endpoint.Metadata.GetMetadata<WithoutDatabaseCircuitMetadata>() is not null)
        {
            await next(context);
            return;
        }
        try
        {
            await circuit.RunAsync(async _ => await next(context), context.RequestAborted);
        }
        catch (BrokenCircuitException open)
        {
            var retryAfter = Math.Max(1, (int)Math.Ceiling((open.RetryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds));
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails =
                {
                    Status = StatusCodes.Status503ServiceUnavailable,
                    Title = "Database unavailable",
                    Detail = $"The database is not answering; requests are refused for now. Try again in {retryAfter} s.",
                },
            });
        }
    }
}
