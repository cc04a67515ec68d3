using System.Diagnostics;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Features.Overview;
using Service.Infrastructure.Caching;
using Service.Infrastructure.Patterns;
using Service.Infrastructure.Redis;
using Service.Infrastructure.Resilience;
using Service.Tests.Fixtures;

// args: connectionString redisUrl events newEvents noiseLevels(comma) seed
var connectionString = args[0];
var redisUrl = args[1];
var total = int.Parse(args[2]);
var newEvents = int.Parse(args[3]);
var noiseLevels = args[4].Split(',').Select(n => double.Parse(n, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
var seed = int.Parse(args[5]);

await using var dataSource = NpgsqlDataSource.Create(connectionString);
var options = new PatternOptions();
await using var redis = new RedisConnection(Options.Create(new RedisOptions { Url = redisUrl }));
using var pipelines = new DependencyPipelines(NullLogger<DependencyPipelines>.Instance);
var cache = new OrgReadCache(redis, Options.Create(options), Options.Create(new RedisOptions { Url = redisUrl }), pipelines, NullLogger<OrgReadCache>.Instance);
var detection = new PatternDetection(dataSource, Options.Create(options), new SuggestionWriter(), cache, TimeProvider.System, NullLogger<PatternDetection>.Instance);

// ---- 1. one organization's million events: detection against a plain scan of the same rows ------------------------
const int users = 20, days = 30, sessionsPerDay = 3;
var workdays = Enumerable.Range(1, days).Count(d => DateTime.UtcNow.Date.AddDays(-d).DayOfWeek is not (DayOfWeek.Saturday or DayOfWeek.Sunday));
var perSession = Math.Max(4, total / (users * workdays * sessionsPerDay));
var big = new PatternGenerator(new PatternGenerator.Settings(Seed: seed, Days: days, Users: users, Noise: 0.9, MinNoisePerSession: perSession,
    End: DateTime.UtcNow.Date, MinSpacingSeconds: 1, MaxSpacingSeconds: 6));
var orgId = Guid.CreateVersion7();
var load = Stopwatch.StartNew();
var events = big.Generate();
await InsertAsync(orgId, events);
var eventCount = events.Count;
events = null;
GC.Collect();
await using (var connection = await dataSource.OpenConnectionAsync()) await connection.ExecuteAsync("VACUUM ANALYZE events", commandTimeout: 600);
Console.WriteLine($"patterns: {eventCount:N0} events of one organization ({users} users, {days} days, {perSession} events a session), stored in {load.Elapsed.TotalSeconds:0.0} s");

var scan = await ScanAsync(orgId);
ResetPeakMemory();
var before = PeakMemoryMegabytes();
var full = Stopwatch.StartNew();
var stats = await detection.RunAsync(orgId, CancellationToken.None) ?? throw new InvalidOperationException("locked");
full.Stop();
var peak = PeakMemoryMegabytes();
var scanAgain = await ScanAsync(orgId);
var floor = (scan + scanAgain) / 2;
Console.WriteLine($"1. plain scan of the rows      {scan:0.000} s, again {scanAgain:0.000} s (baseline: their mean)");
Console.WriteLine($"   full detection              {full.Elapsed.TotalSeconds:0.000} s: {stats.SessionsMined:N0} sessions, {stats.Patterns} patterns, {stats.NewSuggestions} suggestions");
Console.WriteLine($"     read and keep sessions    {stats.ReadSeconds:0.000} s; load and mine {stats.MineSeconds:0.000} s; write {stats.WriteSeconds:0.000} s");
Console.WriteLine($"   ratio detection/scan        {full.Elapsed.TotalSeconds / floor:0.00}   (target <= 3)");
Console.WriteLine($"   peak RSS during detection   {peak:N0} MB (process before: {before:N0} MB)");
var (bigPrecision, bigRecall, bigMissed, bigExtra) = PatternGenerator.Score(big.Truth(), await DetectedAsync(orgId));
Console.WriteLine($"   planted patterns found      precision {bigPrecision:0.00}, recall {bigRecall:0.00}");
foreach (var extra in bigExtra.Take(int.Parse(Environment.GetEnvironmentVariable("SHOW_EXTRA") ?? "0"))) Console.WriteLine($"     extra: {extra}");

// ---- 2. an incremental run over newEvents new ones (a day later of the same people) -----------------------------------
var later = new PatternGenerator(new PatternGenerator.Settings(Seed: seed + 1, Days: 1, Users: users, Noise: 0.9,
    MinNoisePerSession: Math.Max(4, newEvents / (users * sessionsPerDay)), End: DateTime.UtcNow.Date.AddDays(1), MinSpacingSeconds: 1, MaxSpacingSeconds: 6)).Generate();
// A workday, whatever today is: move the day onto the last generated one's date + 1 if it fell on a weekend.
if (later.Count == 0) later = new PatternGenerator(new PatternGenerator.Settings(Seed: seed + 1, Days: 3, Users: users, Noise: 0.9,
    MinNoisePerSession: Math.Max(4, newEvents / (users * sessionsPerDay)), End: DateTime.UtcNow.Date.AddDays(1), MinSpacingSeconds: 1, MaxSpacingSeconds: 6)).Generate();
later = later.Take(newEvents).ToList();
await InsertAsync(orgId, later);
var incremental = Stopwatch.StartNew();
var step = await detection.RunAsync(orgId, CancellationToken.None) ?? throw new InvalidOperationException("locked");
incremental.Stop();
Console.WriteLine($"2. incremental run             {incremental.Elapsed.TotalSeconds:0.000} s over {step.EventsRead:N0} new events ({step.SessionsClosed} sessions closed, {step.SessionsMined:N0} mined)   (target <= 1 s)");
Console.WriteLine($"     read and keep sessions    {step.ReadSeconds:0.000} s; load and mine {step.MineSeconds:0.000} s; write {step.WriteSeconds:0.000} s");

// ---- 3. the overview on a million events ------------------------------------------------------------------------------
await InsertAsync(orgId, new PatternGenerator(new PatternGenerator.Settings(Seed: seed + 2, Days: 1, Users: users, Noise: 0.9, MinNoisePerSession: 30,
    End: DateTime.UtcNow.Date.AddDays(1))).Generate().Take(2000));
// As autovacuum would have by now: the planner needs the rollups' statistics to aggregate them by hashing.
await using (var connection = await dataSource.OpenConnectionAsync()) await connection.ExecuteAsync("ANALYZE event_rollup_types, event_rollup_sources, event_rollup_paths, patterns, suggestions");
var to = DateOnly.FromDateTime(DateTime.UtcNow);
var from = to.AddDays(-29);
// Warm-up (JIT, pool, plans) is not measured.
for (var i = 0; i < 20; i++) await GetOverview.LoadAsync(dataSource, orgId, from, to, CancellationToken.None);
var uncached = new List<double>();
for (var i = 0; i < 200; i++)
{
    var clock = Stopwatch.StartNew();
    await GetOverview.LoadAsync(dataSource, orgId, from, to, CancellationToken.None);
    uncached.Add(clock.Elapsed.TotalMilliseconds);
}
var cached = new List<double>();
for (var i = 0; i < 500; i++)
{
    var clock = Stopwatch.StartNew();
    await cache.GetOrLoadAsync(orgId, "overview", new { from, to }, token => GetOverview.LoadAsync(dataSource, orgId, from, to, token), CancellationToken.None);
    cached.Add(clock.Elapsed.TotalMilliseconds);
}
Console.WriteLine($"3. overview, 30 days           uncached p50 {Percentile(uncached, 50):0.0} ms, p99 {Percentile(uncached, 99):0.0} ms; cached p50 {Percentile(cached, 50):0.00} ms, p99 {Percentile(cached, 99):0.00} ms   (target p99 < 50 ms)");

// ---- 4. precision and recall of the planted patterns as noise grows ---------------------------------------------------
Console.WriteLine("4. noise   events   patterns   precision   recall   missed");
foreach (var noise in noiseLevels)
{
    var generator = new PatternGenerator(new PatternGenerator.Settings(Seed: seed, Days: days, Users: users, Noise: noise, End: DateTime.UtcNow.Date));
    var org = Guid.CreateVersion7();
    var generated = generator.Generate();
    await InsertAsync(org, generated);
    await detection.RunAsync(org, CancellationToken.None);
    var detected = await DetectedAsync(org);
    var (precision, recall, missed, _) = PatternGenerator.Score(generator.Truth(), detected);
    Console.WriteLine($"   {noise * 100,3:0} %  {generated.Count,8:N0}   {detected.Count,8}   {precision,9:0.00}   {recall,6:0.00}   {(missed.Count == 0 ? "-" : string.Join("; ", missed))}");
}

Task InsertAsync(Guid org, IEnumerable<PatternGenerator.Event> rows) => PatternGenerator.CopyAsync(dataSource, org, rows);

// The floor: the same columns of the same rows, read once, with nothing done to them.
async Task<double> ScanAsync(Guid org)
{
    var clock = Stopwatch.StartNew();
    await using var connection = await dataSource.OpenConnectionAsync();
    await using var command = new NpgsqlCommand("SELECT id, source_id, type, tool, path, occurred_at, received_at FROM events WHERE org_id = $1", connection);
    command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = org });
    await using var reader = await command.ExecuteReaderAsync();
    long checksum = 0;
    while (await reader.ReadAsync())
    {
        checksum += reader.GetGuid(0).GetHashCode() + reader.GetGuid(1).GetHashCode() + reader.GetString(2).Length + (reader.IsDBNull(3) ? 0 : reader.GetString(3).Length)
            + reader.GetString(4).Length + reader.GetDateTime(5).Ticks + reader.GetDateTime(6).Ticks;
    }
    GC.KeepAlive(checksum);
    return clock.Elapsed.TotalSeconds;
}

async Task<List<PatternGenerator.Planted>> DetectedAsync(Guid org)
{
    await using var connection = await dataSource.OpenConnectionAsync();
    var rows = await connection.QueryAsync<(string Kind, string Steps, Guid? SourceId, string? Schedule)>(
        "SELECT kind, steps::text, source_id, schedule::text FROM patterns WHERE org_id = @org AND active", new { org });
    return rows.Select(r =>
    {
        var steps = JsonDocument.Parse(r.Steps).RootElement.EnumerateArray()
            .Select(s => (s.GetProperty("type").GetString()!, s.GetProperty("tool").GetString(), s.GetProperty("path").GetString()!)).ToList();
        var schedule = r.Schedule is null ? (JsonElement?)null : JsonDocument.Parse(r.Schedule).RootElement;
        return new PatternGenerator.Planted(r.Kind, steps, r.SourceId, schedule?.GetProperty("weekdays").GetString(), schedule?.GetProperty("minuteOfDay").GetInt32());
    }).ToList();
}

static double Percentile(List<double> values, int p)
{
    var sorted = values.Order().ToList();
    return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1)];
}

// Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM) of the process.
static void ResetPeakMemory()
{
    try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
}

static long PeakMemoryMegabytes()
{
    var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
    return line is null ? Environment.WorkingSet / 1024 / 1024 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;
}
