using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;

namespace Service.Tests.Fixtures;

/// <summary>
/// A real HTTP receiver on 127.0.0.1 (Kestrel) for webhook deliveries. It records every request and answers what the
/// test says for the n-th arrival of each webhook-id; it counts the ids it acknowledged with a 2xx that was fully sent.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, int> _arrivals = new();

    public sealed record Hit(string Path, string? WebhookId, string? Timestamp, string? Signature, IReadOnlyDictionary<string, string> Headers, string Body, int Arrival);

    /// <summary>What to answer: a status, optional headers and body, an optional delay before answering, or a body of BodyBytes.</summary>
    public sealed record Reply(int Status = 200, string? Body = null, IReadOnlyDictionary<string, string>? Headers = null, TimeSpan Delay = default, long BodyBytes = 0);

    public ConcurrentQueue<Hit> Hits { get; } = new();
    public ConcurrentDictionary<string, int> Acknowledged { get; } = new();
    public Func<Hit, Reply> Answer { get; set; } = _ => new Reply(204);

    private WebhookReceiver(WebApplication app) => _app = app;

    public string Url(string path = "/hook") => $"{_app.Urls.First()}{path}";

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var id = context.Request.Headers["webhook-id"].ToString();
        var arrival = _arrivals.AddOrUpdate(id, 1, (_, n) => n + 1);
        var hit = new Hit(context.Request.Path, id.Length > 0 ? id : null, context.Request.Headers["webhook-timestamp"].FirstOrDefault(),
            context.Request.Headers["webhook-signature"].FirstOrDefault(), context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), body, arrival);
        Hits.Enqueue(hit);
        var reply = Answer(hit);
        if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, context.RequestAborted).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (context.RequestAborted.IsCancellationRequested) return;
        context.Response.StatusCode = reply.Status;
        foreach (var (name, value) in reply.Headers ?? new Dictionary<string, string>()) context.Response.Headers[name] = value;
        try
        {
            if (reply.BodyBytes > 0)
            {
                var chunk = new byte[64 * 1024];
                Array.Fill(chunk, (byte)'x');
                for (long sent = 0; sent < reply.BodyBytes; sent += chunk.Length) await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
            }
            else if (reply.Body is not null)
            {
                await context.Response.WriteAsync(reply.Body, context.RequestAborted);
            }
            await context.Response.CompleteAsync();
            if (reply.Status is >= 200 and < 300 && hit.WebhookId is { } acknowledged) Acknowledged.AddOrUpdate(acknowledged, 1, (_, n) => n + 1);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The sender hung up (it reads 1 KiB at most).
        }
    }

    public IReadOnlyList<Hit> HitsFor(string webhookId) => Hits.Where(h => h.WebhookId == webhookId).ToList();

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string>? describe = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not reached within {timeout}{(describe is null ? "" : ": " + describe())}");
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _app.DisposeAsync();
    }
}
