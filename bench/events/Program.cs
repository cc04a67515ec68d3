using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Service.Features.Events;

// Arguments from bench/events/run.sh: service URL, connection string of the benchmark's own database, seed size,
// ingest events per phase, batch size, concurrency, query seconds per shape, phases (comma-separated: ingest,
// statements, queries, privacy; "all" by default).
var serviceUrl = args[0];
var connectionString = args[1];
var seedCount = int.Parse(args[2]);
var ingestCount = int.Parse(args[3]);
var batchSize = int.Parse(args[4]);
var concurrency = int.Parse(args[5]);
var querySeconds = int.Parse(args[6]);
var phases = (args.Length > 7 ? args[7] : "all").Split(',');
bool Runs(string phase) => phases.Contains("all") || phases.Contains(phase);
string[] types = ["file_opened", "file_modified", "file_created", "file_deleted", "script_run", "tool_used"];

await using var db = NpgsqlDataSource.Create(connectionString);
using var http = new HttpClient { BaseAddress = new Uri(serviceUrl), Timeout = TimeSpan.FromMinutes(5) };
var email = $"bench-{Guid.NewGuid():N}@example.com";
(await http.PostAsJsonAsync("/api/v1/auth/register", new { email, password = "benchmark passphrase", displayName = "Bench" })).EnsureSuccessStatusCode();
var login = await (await http.PostAsJsonAsync("/api/v1/auth/login", new { email, password = "benchmark passphrase" })).Content.ReadFromJsonAsync<JsonElement>();
var token = login.GetProperty("accessToken").GetString()!;
var userId = login.TryGetProperty("user", out var u) ? u.GetProperty("id").GetGuid() : Guid.Empty;
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
var orgId = (await (await http.PostAsJsonAsync("/api/v1/orgs", new { name = "Event benchmark" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
var issued = await (await http.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name = "bench agent" })).Content.ReadFromJsonAsync<JsonElement>();
var agentKey = issued.GetProperty("key").GetString()!;
var agentKeyId = issued.GetProperty("id").GetGuid();

// Sources: the benchmark's agent key and nine other agents, as an organization's fleet.
var sources = new[] { agentKeyId }.Concat(Enumerable.Range(0, 9).Select(_ => Guid.NewGuid())).ToArray();
var now = DateTime.UtcNow;
var random = new Random(42);
Row NewRow(DateTime at) => new(Guid.CreateVersion7(), sources[random.Next(sources.Length)], types[random.Next(types.Length)], at,
    $"/home/user{random.Next(50)}/project{random.Next(20)}/src/file{random.Next(100)}.txt", random.Next(4) == 0 ? null : "editor",
    random.Next(5000), null, Guid.NewGuid().ToString("N"));

// 1. Seed: one COPY of seedCount events spread over the last 80 days.
if (!Runs("ingest") && !Runs("statements") && !Runs("queries")) seedCount = 0;
Console.WriteLine($"seeding {seedCount:N0} events (binary COPY)");
var clock = Stopwatch.StartNew();
await using (var connection = await db.OpenConnectionAsync())
{
    await CopyAsync(connection, orgId, Enumerable.Range(0, seedCount).Select(_ => NewRow(now - TimeSpan.FromSeconds(random.NextDouble() * 80 * 86400))));
    await new NpgsqlCommand("ANALYZE events", connection).ExecuteNonQueryAsync();
}
Console.WriteLine($"seeded in {clock.Elapsed.TotalSeconds:0.0} s ({seedCount / clock.Elapsed.TotalSeconds:N0} rows/s)");

List<List<Row>> Batches(int count) => Enumerable.Range(0, count / batchSize)
    .Select(_ => Enumerable.Range(0, batchSize).Select(_ => NewRow(now - TimeSpan.FromSeconds(random.NextDouble() * 3600))).ToList()).ToList();

async Task<double> RunConcurrentlyAsync<T>(IReadOnlyList<T> work, Func<T, Task> action)
{
    var queue = new ConcurrentQueue<T>(work);
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (queue.TryDequeue(out var item)) await action(item);
    }));
    return watch.Elapsed.TotalSeconds;
}

// 2. Ingest through the API (agent key, JSON bodies serialized beforehand) vs raw COPY of the same rows, same
// batches, same concurrency; alternating, fresh rows each phase.
using var agent = new HttpClient { BaseAddress = new Uri(serviceUrl), Timeout = TimeSpan.FromMinutes(5) };
agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", agentKey);
async Task<double> ThroughApiAsync(List<List<Row>> batches, HttpClient? client = null, Guid? org = null, bool metadata = false)
{
    var bodies = batches.Select(b => JsonSerializer.SerializeToUtf8Bytes(new
    {
        events = b.Select(r => new
        {
            type = r.Type, occurredAt = r.OccurredAt.ToString("O"), path = r.Path, tool = r.Tool, durationMs = r.DurationMs, clientEventId = r.ClientEventId,
            metadata = metadata ? new { lines = r.DurationMs % 400, branch = "main", editor = new { name = r.Tool, session = r.DurationMs } } : null,
        }),
    })).ToList();
    var seconds = await RunConcurrentlyAsync(bodies, async body =>
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await (client ?? agent).PostAsync($"/api/v1/orgs/{org ?? orgId}/events", content);
        if (response.StatusCode != System.Net.HttpStatusCode.Created) throw new InvalidOperationException($"ingest answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    });
    return bodies.Count * batchSize / seconds;
}
async Task<double> RawCopyAsync(List<List<Row>> batches)
{
    var seconds = await RunConcurrentlyAsync(batches, async batch =>
    {
        await using var connection = await db.OpenConnectionAsync();
        await CopyAsync(connection, orgId, batch);
    });
    return batches.Count * batchSize / seconds;
}

if (Runs("ingest"))
{
    Console.WriteLine($"\ningest: {ingestCount:N0} events per run, batches of {batchSize}, concurrency {concurrency}");
    await ThroughApiAsync(Batches(batchSize * concurrency * 4)); // warm-up
    var api = new List<double>();
    var copy = new List<double>();
    for (var round = 1; round <= 3; round++)
    {
        if (round % 2 == 1) { api.Add(await ThroughApiAsync(Batches(ingestCount))); copy.Add(await RawCopyAsync(Batches(ingestCount))); }
        else { copy.Add(await RawCopyAsync(Batches(ingestCount))); api.Add(await ThroughApiAsync(Batches(ingestCount))); }
        Console.WriteLine($"  round {round}: API {api[^1],9:N0} events/s   raw COPY {copy[^1],9:N0} events/s   ratio {api[^1] / copy[^1]:0.00}");
    }
    var ingestRatio = Median(api.Zip(copy, (a, c) => a / c).ToList());
    Console.WriteLine($"  median: API {Median(api):N0} events/s, raw COPY {Median(copy):N0} events/s, ratio {ingestRatio:0.00} (target >= 0.5): {(ingestRatio >= 0.5 ? "met" : "NOT met")}");
}

// 2b. Privacy at intake: the same batches into an organization storing paths as sent with no exclusions and no
// metadata keys, and into one hashing every directory with 20 exclusion globs and the default metadata keys. No
// generated path is excluded, so both store the same rows; the difference is the policy's own work.
if (Runs("privacy"))
{
    string[] twentyGlobs =
    [
        "**/.ssh/**", "**/.gnupg/**", "**/*.pem", "**/*.key", "**/.env", "**/.env.*", "**/*.p12", "**/*.pfx", "**/.aws/credentials", "**/.netrc",
        "**/.pgpass", "**/id_rsa*", "**/id_ed25519*", "**/node_modules/**", "**/.git/**", "**/*.kdbx", "**/secrets/**", "**/.docker/config.json",
        "**/*.ovpn", "**/.kube/config",
    ];
    async Task<(HttpClient Client, Guid Org)> PolicyOrgAsync(string name, object policy)
    {
        var org = (await (await http.PostAsJsonAsync("/api/v1/orgs", new { name })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        (await http.PutAsJsonAsync($"/api/v1/orgs/{org}/privacy", policy)).EnsureSuccessStatusCode();
        var key = (await (await http.PostAsJsonAsync($"/api/v1/orgs/{org}/api-keys", new { name = "agent" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        var client = new HttpClient { BaseAddress = new Uri(serviceUrl), Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", key);
        return (client, org);
    }
    var keep = await PolicyOrgAsync("keep", new { pathMode = "keep", excludeGlobs = Array.Empty<string>(), dropMetadataKeys = Array.Empty<string>() });
    var hashed = await PolicyOrgAsync("hash_dirs", new { pathMode = "hash_dirs", excludeGlobs = twentyGlobs });
    Console.WriteLine($"\nprivacy at intake: {ingestCount:N0} events per run with metadata, batches of {batchSize}, concurrency {concurrency}");
    await ThroughApiAsync(Batches(batchSize * concurrency * 4), keep.Client, keep.Org, metadata: true);
    await ThroughApiAsync(Batches(batchSize * concurrency * 4), hashed.Client, hashed.Org, metadata: true);
    var kept = new List<double>();
    var hashedRates = new List<double>();
    for (var round = 1; round <= 5; round++)
    {
        if (round % 2 == 1)
        {
            kept.Add(await ThroughApiAsync(Batches(ingestCount), keep.Client, keep.Org, metadata: true));
            hashedRates.Add(await ThroughApiAsync(Batches(ingestCount), hashed.Client, hashed.Org, metadata: true));
        }
        else
        {
            hashedRates.Add(await ThroughApiAsync(Batches(ingestCount), hashed.Client, hashed.Org, metadata: true));
            kept.Add(await ThroughApiAsync(Batches(ingestCount), keep.Client, keep.Org, metadata: true));
        }
        Console.WriteLine($"  round {round}: keep {kept[^1],9:N0} events/s   hash_dirs + 20 globs {hashedRates[^1],9:N0} events/s   ratio {hashedRates[^1] / kept[^1]:0.00}");
    }
    var privacyRatio = Median(hashedRates.Zip(kept, (h, k) => h / k).ToList());
    Console.WriteLine($"  median ratio hash_dirs + 20 globs / keep {privacyRatio:0.00} (target >= 0.8): {(privacyRatio >= 0.8 ? "met" : "NOT met")}");
}
if (!Runs("statements") && !Runs("queries")) return 0;

if (Runs("statements"))
{
    // 3. The two statements the ingest slice could use, on the database alone: unnest(...) INSERT ON CONFLICT (what it
    // uses) vs binary COPY into a temporary staging table, then INSERT ... SELECT ON CONFLICT.
    Console.WriteLine($"\ninsert statement, database only, batches of {batchSize}, concurrency {concurrency}");
    var unnest = new List<double>();
    var staging = new List<double>();
    for (var round = 1; round <= 3; round++)
    {
        var a = Batches(ingestCount); var b = Batches(ingestCount);
        var tu = await RunConcurrentlyAsync(a, batch => InsertUnnestAsync(db, orgId, batch));
        var ts = await RunConcurrentlyAsync(b, batch => InsertViaStagingAsync(db, orgId, batch));
        unnest.Add(ingestCount / tu); staging.Add(ingestCount / ts);
        Console.WriteLine($"  round {round}: unnest INSERT {unnest[^1],9:N0} rows/s   COPY + staging {staging[^1],9:N0} rows/s   ratio {unnest[^1] / staging[^1]:0.00}");
    }
    Console.WriteLine($"  median ratio unnest/staging {Median(unnest.Zip(staging, (x, y) => x / y).ToList()):0.00}");
}
if (!Runs("queries")) return 0;

// 4. Queries through the API on the seeded table: 100-item pages, concurrency 8.
// A table that has lived a while is mostly all-visible (autovacuum): vacuum so index-only scans read like they would.
await using (var connection = await db.OpenConnectionAsync()) await new NpgsqlCommand("VACUUM (ANALYZE) events", connection).ExecuteNonQueryAsync();
var from = Uri.EscapeDataString(now.AddDays(-7).ToString("O"));
var to = Uri.EscapeDataString(now.AddDays(-6).ToString("O"));
var firstPage = await http.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events?limit=100");
var cursor = Uri.EscapeDataString(firstPage.GetProperty("nextCursor").GetString()!);
(DateTime At, Guid Id) hundredth;
await using (var connection = await db.OpenConnectionAsync())
{
    await using var command = new NpgsqlCommand("SELECT occurred_at, id FROM events WHERE org_id = $1 ORDER BY occurred_at DESC, id DESC OFFSET 99 LIMIT 1", connection);
    command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orgId });
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    hundredth = (reader.GetDateTime(0), reader.GetGuid(1));
}
var dayFrom = now.AddDays(-7);
var dayTo = now.AddDays(-6);
var shapes = new (string Name, string Query, ListEventsQuery Filters, (DateTime, Guid)? After)[]
{
    ("newest page", "limit=100", new(null, null, null, null, null, null, null), null),
    ("next page (cursor)", $"limit=100&cursor={cursor}", new(null, null, null, null, null, null, null), hundredth),
    ("one type", "limit=100&type=script_run", new(null, null, ["script_run"], null, null, null, null), null),
    ("two types", "limit=100&type=file_created&type=file_deleted", new(null, null, ["file_created", "file_deleted"], null, null, null, null), null),
    ("one day, 6 days ago", $"limit=100&from={from}&to={to}", new(dayFrom, dayTo, null, null, null, null, null), null),
    ("path prefix", $"limit=100&pathPrefix={Uri.EscapeDataString("/home/user7/project3/")}", new(null, null, null, "/home/user7/project3/", null, null, null), null),
    ("one source", $"limit=100&source={sources[3]}", new(null, null, null, null, sources[3], null, null), null),
    ("type + day + source", $"limit=100&type=file_opened&from={from}&to={to}&source={sources[5]}", new(dayFrom, dayTo, ["file_opened"], null, sources[5], null, null), null),
};

// Both columns at concurrency 8: through the API (HTTP, authentication, the membership check, JSON), and the
// slice's own SQL (ListEvents.Build) straight on the database, to tell the query from the rest of the request.
Console.WriteLine($"\nquery: 100-item pages, {seedCount:N0}+ events in the organization, concurrency {concurrency}, {querySeconds} s per shape and column");
Console.WriteLine($"  {"shape",-22} {"API req/s",10} {"p50 ms",8} {"p99 ms",8}   {"SQL q/s",9} {"p50 ms",8} {"p99 ms",8}");
var worstApi = 0.0;
var worstSql = 0.0;
foreach (var (name, query, filters, after) in shapes)
{
    var viaApi = await MeasureAsync(async () =>
    {
        using var response = await http.GetAsync($"/api/v1/orgs/{orgId}/events?{query}");
        await response.Content.ReadAsByteArrayAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{name} answered {(int)response.StatusCode}");
    });
    var (sql, parameters) = Service.Features.Events.ListEvents.Build(orgId, filters, after, 101);
    var viaSql = await MeasureAsync(async () =>
    {
        await using var connection = await db.OpenConnectionAsync();
        var rows = await Dapper.SqlMapper.QueryAsync(connection, sql, parameters);
        if (!rows.Any()) throw new InvalidOperationException($"{name} found nothing");
    });
    worstApi = Math.Max(worstApi, viaApi.P99);
    worstSql = Math.Max(worstSql, viaSql.P99);
    Console.WriteLine($"  {name,-22} {viaApi.Rate,10:N0} {viaApi.P50,8:0.00} {viaApi.P99,8:0.00}   {viaSql.Rate,9:N0} {viaSql.P50,8:0.00} {viaSql.P99,8:0.00}");
}
Console.WriteLine($"  worst p99: API {worstApi:0.00} ms, SQL {worstSql:0.00} ms (target < 20 ms): API {(worstApi < 20 ? "met" : "NOT met")}, SQL {(worstSql < 20 ? "met" : "NOT met")}");
return 0;

async Task<(double Rate, double P50, double P99)> MeasureAsync(Func<Task> request)
{
    var latencies = new ConcurrentBag<double>();
    var deadline = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (deadline.Elapsed.TotalSeconds < querySeconds)
        {
            var started = Stopwatch.GetTimestamp();
            await request();
            latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }));
    var sorted = latencies.Order().ToList();
    return (sorted.Count / deadline.Elapsed.TotalSeconds, sorted[sorted.Count / 2], sorted[(int)(sorted.Count * 0.99)]);
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

static async Task CopyAsync(NpgsqlConnection connection, Guid orgId, IEnumerable<Row> rows, string table = "events", Guid? source = null)
{
    await using var importer = await connection.BeginBinaryImportAsync(
        $"COPY {table} (id, org_id, source_type, source_id, type, occurred_at, path, tool, duration_ms, metadata, client_event_id) FROM STDIN (FORMAT BINARY)");
    foreach (var row in rows)
    {
        await importer.StartRowAsync();
        await importer.WriteAsync(row.Id, NpgsqlDbType.Uuid);
        await importer.WriteAsync(orgId, NpgsqlDbType.Uuid);
        await importer.WriteAsync("api_key", NpgsqlDbType.Text);
        await importer.WriteAsync(source ?? row.Source, NpgsqlDbType.Uuid);
        await importer.WriteAsync(row.Type, NpgsqlDbType.Text);
        await importer.WriteAsync(row.OccurredAt, NpgsqlDbType.TimestampTz);
        await importer.WriteAsync(row.Path, NpgsqlDbType.Text);
        if (row.Tool is null) await importer.WriteNullAsync(); else await importer.WriteAsync(row.Tool, NpgsqlDbType.Text);
        await importer.WriteAsync((long)row.DurationMs, NpgsqlDbType.Bigint);
        await importer.WriteNullAsync();
        await importer.WriteAsync(row.ClientEventId, NpgsqlDbType.Text);
    }
    await importer.CompleteAsync();
}

// The statement IngestEvents runs (kept in step with src/Features/Events/IngestEvents.cs).
static async Task InsertUnnestAsync(NpgsqlDataSource db, Guid orgId, List<Row> batch)
{
    await using var connection = await db.OpenConnectionAsync();
    await using var command = new NpgsqlCommand("""
        INSERT INTO events (id, org_id, source_type, source_id, type, occurred_at, path, tool, duration_ms, metadata, client_event_id)
        SELECT e.id, $1, 'api_key', $2, e.type, e.occurred_at, e.path, e.tool, e.duration_ms, e.metadata, e.client_event_id
        FROM unnest($3::uuid[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::bigint[], $9::jsonb[], $10::text[])
            AS e(id, type, occurred_at, path, tool, duration_ms, metadata, client_event_id)
        ON CONFLICT (org_id, source_id, client_event_id) WHERE client_event_id IS NOT NULL DO NOTHING
        """, connection);
    command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = orgId });
    command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = batch[0].Source });
    command.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = batch.Select(r => r.Id).ToArray() });
    command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = batch.Select(r => r.Type).ToArray() });
    command.Parameters.Add(new NpgsqlParameter<DateTime[]> { TypedValue = batch.Select(r => r.OccurredAt).ToArray() });
    command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = batch.Select(r => r.Path).ToArray() });
    command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = batch.Select(r => r.Tool).ToArray() });
    command.Parameters.Add(new NpgsqlParameter<long?[]> { TypedValue = batch.Select(r => (long?)r.DurationMs).ToArray() });
    command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = batch.Select(r => r.Metadata).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb });
    command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = batch.Select(r => r.ClientEventId).ToArray() });
    await command.ExecuteNonQueryAsync();
}

static async Task InsertViaStagingAsync(NpgsqlDataSource db, Guid orgId, List<Row> batch)
{
    await using var connection = await db.OpenConnectionAsync();
    await using var transaction = await connection.BeginTransactionAsync();
    await new NpgsqlCommand("CREATE TEMP TABLE events_staging (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP", connection, transaction).ExecuteNonQueryAsync();
    await CopyAsync(connection, orgId, batch, "events_staging", batch[0].Source); // one source per batch, as in InsertUnnestAsync
    await new NpgsqlCommand("""
        INSERT INTO events SELECT * FROM events_staging
        ON CONFLICT (org_id, source_id, client_event_id) WHERE client_event_id IS NOT NULL DO NOTHING
        """, connection, transaction).ExecuteNonQueryAsync();
    await transaction.CommitAsync();
}

record Row(Guid Id, Guid Source, string Type, DateTime OccurredAt, string Path, string? Tool, int DurationMs, string? Metadata, string ClientEventId);
