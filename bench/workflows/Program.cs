using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using Service.Infrastructure.Integrations;

// args: connectionString runs workersPerInstance schedules scheduleSeconds ingestSeconds url1 url2 url3
var connectionString = args[0];
var runs = int.Parse(args[1]);
var concurrency = int.Parse(args[2]) * (args.Length - 6);
var schedules = int.Parse(args[3]);
var scheduleSeconds = int.Parse(args[4]);
var ingestSeconds = int.Parse(args[5]);
var urls = args[6..];

// The receiver: Kestrel on 127.0.0.1, a small JSON answer the workflow's next step reads.
var builder = WebApplication.CreateSlimBuilder();
builder.WebHost.UseUrls("http://127.0.0.1:0");
builder.Logging.ClearProviders();
var receiver = builder.Build();
receiver.Run(async context =>
{
    await context.Request.Body.CopyToAsync(Stream.Null);
    context.Response.ContentType = "application/json";
    await context.Response.WriteAsync("""{"ok":true}""");
});
await receiver.StartAsync();
var receiverUrl = receiver.Urls.First() + "/hook";

var api = await SignUpAsync(urls[0]);
var orgId = await CreateAsync(api, "/api/v1/orgs", new { name = "Bench" });
var created = await api.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations", new { kind = "webhook", name = "bench", url = receiverUrl });
var integration = await created.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>();
var integrationId = integration.GetProperty("id").GetGuid();
var target = new IntegrationTarget(integrationId, "webhook", receiverUrl, new Dictionary<string, string>(), [integration.GetProperty("signingSecret").GetString()!]);
await using var dataSource = NpgsqlDataSource.Create(connectionString);

// ---- 1. run throughput -----------------------------------------------------------------------------------------
var workflowId = await CreateAsync(api, $"/api/v1/orgs/{orgId}/workflows", new
{
    name = "Three steps",
    trigger = new { type = "manual" },
    condition = "input.n >= 0",
    steps = new object[]
    {
        new { name = "post", type = "webhook", integrationId, input = new { body = new { n = "{{input.n}}", path = "/reports/q3.csv" } } },
        new { name = "tell", type = "notify", when = "steps.post.output.status == 200", input = new { toRole = "owner", title = "Run {{input.n}} posted" } },
    },
    settings = new { maxConcurrentRuns = 100 },
});
// What the workflow's webhook step renders and sends, so that the bare loop sends the same.
const string stepBody = """{"n":1,"path":"/reports/q3.csv"}""";
Console.WriteLine($"workflows: {runs} runs at {concurrency} workers over {urls.Length} instances; ingest {ingestSeconds} s per variant; {schedules} per-second schedules for {scheduleSeconds} s");
await PipelineAsync(200);
await BareWebhookLoop.PostAsync(target, "workflow.step", stepBody, 200, concurrency);
var bare = await BareWebhookLoop.PostAsync(target, "workflow.step", stepBody, runs, concurrency);
var pipeline = await PipelineAsync(runs);
var bareAgain = await BareWebhookLoop.PostAsync(target, "workflow.step", stepBody, runs, concurrency);
var baseline = (bare + bareAgain) / 2;
Console.WriteLine($"1. bare HttpClient loop     {bare,8:0} calls/s, again {bareAgain,8:0} calls/s (baseline: their mean)");
Console.WriteLine($"   3-step runs              {pipeline,8:0} runs/s");
Console.WriteLine($"   ratio runs/bare          {pipeline / baseline,8:0.000}   (target >= 0.5)");

// ---- 2. ingest with and without 20 event-triggered workflows ------------------------------------------------------
var quietOrg = await CreateAsync(api, "/api/v1/orgs", new { name = "No workflows" });
var busyOrg = await CreateAsync(api, "/api/v1/orgs", new { name = "Twenty workflows" });
for (var i = 0; i < 20; i++)
{
    var id = await CreateAsync(api, $"/api/v1/orgs/{busyOrg}/workflows", new
    {
        name = $"Reports {i}",
        trigger = new { type = "event", eventTypes = new[] { "file_created", "file_modified" }, pathGlob = $"/reports/{i}/**/*.csv" },
        condition = "event.tool != 'excel'",
        steps = new object[] { new { name = "tell", type = "notify", input = new { toRole = "owner", title = "New report {{event.path}}" } } },
    });
    (await api.PostAsync($"/api/v1/orgs/{busyOrg}/workflows/{id}/enable", null)).EnsureSuccessStatusCode();
}
var quietKey = await ApiKeyAsync(quietOrg);
var busyKey = await ApiKeyAsync(busyOrg);
await IngestAsync(quietOrg, quietKey, 2);
await IngestAsync(busyOrg, busyKey, 2);
var none1 = await IngestAsync(quietOrg, quietKey, ingestSeconds);
var with1 = await IngestAsync(busyOrg, busyKey, ingestSeconds);
var none2 = await IngestAsync(quietOrg, quietKey, ingestSeconds);
var with2 = await IngestAsync(busyOrg, busyKey, ingestSeconds);
var matchedRuns = await Scalar<long>("SELECT count(*) FROM workflow_runs WHERE org_id = @busyOrg", new { busyOrg });
Console.WriteLine($"2. ingest, no workflows      {none1,8:0} events/s, again {none2,8:0}");
Console.WriteLine($"   ingest, 20 event workflows {with1,8:0} events/s, again {with2,8:0}   ({matchedRuns} runs started by 1% of the events)");
Console.WriteLine($"   ratio with/without       {(with1 + with2) / (none1 + none2),8:0.000}   (target >= 0.8)");

// ---- 3. per-second schedules across the instances ---------------------------------------------------------------
var scheduled = new List<Guid>();
for (var i = 0; i < schedules; i++)
{
    scheduled.Add(await CreateAsync(api, $"/api/v1/orgs/{orgId}/workflows", new
    {
        name = $"Every second {i}",
        trigger = new { type = "schedule", cron = "* * * * * *", timeZone = "Europe/Berlin" },
        steps = new object[] { new { name = "wait", type = "delay", input = new { seconds = 0 } } },
    }));
}
var windowStart = DateTime.UtcNow.AddSeconds(3);
await Task.WhenAll(scheduled.Select(id => api.PostAsync($"/api/v1/orgs/{orgId}/workflows/{id}/enable", null)));
await Task.Delay(TimeSpan.FromSeconds(scheduleSeconds));
var windowEnd = DateTime.UtcNow.AddSeconds(-2);
await Task.WhenAll(scheduled.Select(id => api.PostAsync($"/api/v1/orgs/{orgId}/workflows/{id}/disable", null)));
await Task.Delay(3000);
var window = new { ids = scheduled.ToArray(), from = DateTime.SpecifyKind(windowStart, DateTimeKind.Utc), to = DateTime.SpecifyKind(windowEnd, DateTimeKind.Utc) };
var lag = await Single<(double P50, double P99, double Max, double StartP50, double StartP99)>("""
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - scheduled_for)) * 1000,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - scheduled_for)) * 1000,
           max(extract(epoch FROM created_at - scheduled_for)) * 1000,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - scheduled_for)) * 1000,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - scheduled_for)) * 1000
    FROM workflow_runs WHERE workflow_id = ANY(@ids) AND scheduled_for >= @from AND scheduled_for < @to
    """, window);
var fired = await Scalar<long>("SELECT count(*) FROM workflow_runs WHERE workflow_id = ANY(@ids) AND scheduled_for >= @from AND scheduled_for < @to", window);
var duplicates = await Scalar<long>("""
    SELECT count(*) - count(DISTINCT (workflow_id, scheduled_for)) FROM workflow_runs WHERE workflow_id = ANY(@ids) AND scheduled_for >= @from AND scheduled_for < @to
    """, window);
var skipped = await Scalar<long>("SELECT count(*) FROM workflow_fires WHERE workflow_id = ANY(@ids) AND outcome = 'skipped' AND scheduled_for >= @from AND scheduled_for < @to", window);
// Every whole second in [windowStart, windowEnd) is a fire of every schedule.
var expected = (long)schedules * (long)(Math.Ceiling((windowEnd - DateTime.UnixEpoch).TotalSeconds) - Math.Ceiling((windowStart - DateTime.UnixEpoch).TotalSeconds));
var unfinished = await Scalar<long>("SELECT count(*) FROM workflow_runs WHERE workflow_id = ANY(@ids) AND status NOT IN ('succeeded')", window);
Console.WriteLine($"3. {schedules} schedules x {(windowEnd - windowStart).TotalSeconds:0} s measured: {fired} runs of {expected} expected fires; misses {Math.Max(0, expected - fired)}, skipped {skipped}, duplicates {duplicates}, not succeeded {unfinished}");
Console.WriteLine($"   fire lag (scheduled -> run queued)  p50 {lag.P50,6:0.0} ms  p99 {lag.P99,6:0.0} ms  max {lag.Max,6:0.0} ms   (target p99 < 1000 ms)");
Console.WriteLine($"   start lag (scheduled -> run started) p50 {lag.StartP50,6:0.0} ms  p99 {lag.StartP99,6:0.0} ms");
await receiver.StopAsync();
return;

// Queues `count` runs of the 3-step workflow in one transaction; commit -> the last run finished (database clock).
async Task<double> PipelineAsync(int count)
{
    await using var connection = await dataSource.OpenConnectionAsync();
    var committedAt = await connection.QuerySingleAsync<DateTime>("""
        INSERT INTO workflow_runs (id, org_id, workflow_id, version, trigger_type, trigger_data, input, timeout_seconds)
        SELECT gen_random_uuid(), @orgId, @workflowId, 1, 'manual', '{"type": "manual"}', jsonb_build_object('n', n), 300
        FROM generate_series(1, @count) AS n;
        SELECT clock_timestamp() FROM (SELECT pg_notify('workflow_runs', '')) AS woken;
        """, new { orgId, workflowId, count });
    while (true)
    {
        var (open, last, failed) = await connection.QuerySingleAsync<(long, DateTime?, long)>("""
            SELECT count(*) FILTER (WHERE status IN ('queued', 'running')), max(finished_at), count(*) FILTER (WHERE status NOT IN ('queued', 'running', 'succeeded'))
            FROM workflow_runs WHERE workflow_id = @workflowId
            """, new { workflowId });
        if (failed > 0) throw new InvalidOperationException($"{failed} runs did not succeed");
        if (open == 0) return count / (last!.Value - committedAt).TotalSeconds;
        await Task.Delay(20);
    }
}

// Batches of 100 events from 16 agents spread over the instances for `seconds`; 1 event in 100 matches a workflow.
async Task<double> IngestAsync(Guid org, string key, int seconds)
{
    var stopAt = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
    long events = 0;
    var started = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, 16).Select(async agent =>
    {
        using var client = new HttpClient { BaseAddress = new Uri(urls[agent % urls.Length]) };
        client.DefaultRequestHeaders.Authorization = new("ApiKey", key);
        var sequence = 0;
        while (Stopwatch.GetTimestamp() < stopAt)
        {
            var batch = Enumerable.Range(0, 100).Select(i =>
            {
                var n = sequence++;
                var folder = n % 100 == 0 ? $"/reports/{agent}/2026" : $"/work/{agent}/src";
                return new { type = n % 2 == 0 ? "file_created" : "file_modified", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = $"{folder}/file-{n}.csv", tool = "python" };
            }).ToArray();
            var response = await client.PostAsJsonAsync($"/api/v1/orgs/{org}/events", new { events = batch });
            response.EnsureSuccessStatusCode();
            Interlocked.Add(ref events, batch.Length);
        }
    }));
    return events / Stopwatch.GetElapsedTime(started).TotalSeconds;
}

async Task<HttpClient> SignUpAsync(string url)
{
    var client = new HttpClient { BaseAddress = new Uri(url) };
    var email = $"bench-{Guid.NewGuid():N}@example.com";
    (await client.PostAsJsonAsync("/api/v1/auth/register", new { email, password = "correct horse battery", displayName = "Bench" })).EnsureSuccessStatusCode();
    var login = await (await client.PostAsJsonAsync("/api/v1/auth/login", new { email, password = "correct horse battery" })).Content.ReadFromJsonAsync<JsonElement>();
    client.DefaultRequestHeaders.Authorization = new("Bearer", login.GetProperty("accessToken").GetString());
    return client;
}

async Task<Guid> CreateAsync(HttpClient client, string path, object body)
{
    var response = await client.PostAsJsonAsync(path, body);
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
}

async Task<string> ApiKeyAsync(Guid org)
{
    var response = await api.PostAsJsonAsync($"/api/v1/orgs/{org}/api-keys", new { name = "agent" });
    return (await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
}

async Task<T> Scalar<T>(string sql, object parameters)
{
    await using var connection = await dataSource.OpenConnectionAsync();
    return await connection.ExecuteScalarAsync<T>(sql, parameters) ?? throw new InvalidOperationException(sql);
}

async Task<T> Single<T>(string sql, object parameters)
{
    await using var connection = await dataSource.OpenConnectionAsync();
    return await connection.QuerySingleAsync<T>(sql, parameters);
}
