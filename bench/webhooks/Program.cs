using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Integrations;

// args: serviceUrl connectionString messages concurrency steadyRate steadySeconds
var serviceUrl = args[0];
var connectionString = args[1];
var messages = int.Parse(args[2]);
var concurrency = int.Parse(args[3]);
var steadyRate = int.Parse(args[4]);
var steadySeconds = int.Parse(args[5]);

// The receiver: Kestrel on 127.0.0.1, 204 for everything, the arrival time of each webhook-id.
var arrivals = new ConcurrentDictionary<string, long>();
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.ClearProviders();
var receiver = builder.Build();
receiver.Run(async context =>
{
    await context.Request.Body.CopyToAsync(Stream.Null);
    arrivals.TryAdd(context.Request.Headers["webhook-id"].ToString(), Stopwatch.GetTimestamp());
    context.Response.StatusCode = 204;
});
await receiver.StartAsync();
var receiverUrl = receiver.Urls.First() + "/hook";

// An organization and a webhook integration through the public API, as a frontend would.
using var api = new HttpClient { BaseAddress = new Uri(serviceUrl) };
var email = $"bench-{Guid.NewGuid():N}@example.com";
(await api.PostAsJsonAsync("/api/v1/auth/register", new { email, password = "correct horse battery", displayName = "Bench" })).EnsureSuccessStatusCode();
var login = await (await api.PostAsJsonAsync("/api/v1/auth/login", new { email, password = "correct horse battery" })).Content.ReadFromJsonAsync<JsonElement>();
api.DefaultRequestHeaders.Authorization = new("Bearer", login.GetProperty("accessToken").GetString());
var org = await (await api.PostAsJsonAsync("/api/v1/orgs", new { name = "Bench" })).Content.ReadFromJsonAsync<JsonElement>();
var orgId = org.GetProperty("id").GetGuid();
var created = await api.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", new { kind = "webhook", name = "bench", url = receiverUrl });
created.EnsureSuccessStatusCode();
var integration = await created.Content.ReadFromJsonAsync<JsonElement>();
var integrationId = integration.GetProperty("id").GetGuid();
var secret = integration.GetProperty("signingSecret").GetString()!;

await using var dataSource = NpgsqlDataSource.Create(connectionString);
var outbox = new WebhookOutbox(Options.Create(new IntegrationOptions()));
var data = new { workflowId = Guid.NewGuid(), runId = Guid.NewGuid(), status = "succeeded", path = "/reports/q3.xlsx" };
var dataJson = JsonSerializer.Serialize(data, JsonSerializerOptions.Web);
var target = new IntegrationTarget(integrationId, "webhook", receiverUrl, new Dictionary<string, string>(), [secret]);

Console.WriteLine($"webhooks: {messages} messages, concurrency {concurrency}; then {steadyRate} msg/s for {steadySeconds} s");

// Warm-up: both paths once, so that JIT and connection set-up are not measured.
await PipelineAsync(200);
await BareWebhookLoop.PostAsync(target, "workflow.completed", dataJson, 200, concurrency);

var bare = await BareWebhookLoop.PostAsync(target, "workflow.completed", dataJson, messages, concurrency);
var pipeline = await PipelineAsync(messages);
var bareAgain = await BareWebhookLoop.PostAsync(target, "workflow.completed", dataJson, messages, concurrency);
var baseline = (bare + bareAgain) / 2;
Console.WriteLine($"bare HttpClient loop  {bare,8:0} msg/s, again {bareAgain,8:0} msg/s (baseline: their mean)");
Console.WriteLine($"outbox -> workers     {pipeline,8:0} msg/s");
Console.WriteLine($"ratio pipeline/bare   {pipeline / baseline,8:0.000}   (target >= 0.7)");

var latencies = await SteadyAsync(steadyRate, steadySeconds);
latencies.Sort();
double P(double q) => latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
Console.WriteLine($"steady {steadyRate} msg/s, enqueue (commit) -> received: p50 {P(0.50):0.0} ms, p99 {P(0.99):0.0} ms, max {latencies[^1]:0.0} ms over {latencies.Count} messages   (target p99 < 250 ms)");
await receiver.StopAsync();
return;

// Enqueues `count` messages in one transaction and measures commit -> last arrival.
async Task<double> PipelineAsync(int count)
{
    var ids = new List<string>(count);
    await using (var connection = await dataSource.OpenConnectionAsync())
    await using (var transaction = await connection.BeginTransactionAsync())
    {
        for (var i = 0; i < count; i++) ids.Add($"msg_{await outbox.EnqueueAsync(connection, transaction, orgId, integrationId, "workflow.completed", data, CancellationToken.None):N}");
        await transaction.CommitAsync();
    }
    var started = Stopwatch.GetTimestamp();
    while (!ids.All(arrivals.ContainsKey)) await Task.Delay(5);
    var last = ids.Max(id => arrivals[id]);
    return count / Stopwatch.GetElapsedTime(started, last).TotalSeconds;
}

// One message per transaction at a steady rate, as workflow runs would enqueue them; latency = commit -> arrival.
async Task<List<double>> SteadyAsync(int rate, int seconds)
{
    var committed = new ConcurrentDictionary<string, long>();
    var interval = TimeSpan.FromSeconds(1.0 / rate);
    var total = rate * seconds;
    var started = Stopwatch.GetTimestamp();
    var sends = new List<Task>();
    for (var i = 0; i < total; i++)
    {
        var due = started + (long)(interval.TotalSeconds * i * Stopwatch.Frequency);
        var wait = TimeSpan.FromSeconds((due - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency);
        if (wait > TimeSpan.Zero) await Task.Delay(wait);
        sends.Add(Task.Run(async () =>
        {
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            var id = await outbox.EnqueueAsync(connection, transaction, orgId, integrationId, "workflow.completed", data, CancellationToken.None);
            await transaction.CommitAsync();
            committed[$"msg_{id:N}"] = Stopwatch.GetTimestamp();
        }));
    }
    await Task.WhenAll(sends);
    var deadline = Stopwatch.GetTimestamp() + 30 * Stopwatch.Frequency;
    while (!committed.Keys.All(arrivals.ContainsKey) && Stopwatch.GetTimestamp() < deadline) await Task.Delay(10);
    return committed.Select(c => arrivals.TryGetValue(c.Key, out var at) ? Math.Max(0, Stopwatch.GetElapsedTime(c.Value, at).TotalMilliseconds) : double.PositiveInfinity).ToList();
}
