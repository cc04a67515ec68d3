using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Redis;
using Service.Infrastructure.Security;
using Service.Infrastructure.Streaming;
using StackExchange.Redis;

// The floor to compare memory with: the bare framework holding the same number of idle SSE responses (run by
// run.sh as its own process: `StreamBench.dll --bare-sse PORT`).
if (args[0] == "--bare-sse")
{
    var bareBuilder = WebApplication.CreateSlimBuilder();
    bareBuilder.Logging.ClearProviders();
    bareBuilder.WebHost.UseUrls($"http://127.0.0.1:{args[1]}");
    var bare = bareBuilder.Build();
    bare.MapGet("/api/v1/stream", async (HttpContext context, CancellationToken cancellationToken) =>
    {
        context.Response.ContentType = "text/event-stream";
        await context.Response.WriteAsync("retry: 3000\nid: 0\nevent: stream.open\ndata: {}\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
        try { await Task.Delay(Timeout.Infinite, cancellationToken); } catch (OperationCanceledException) { }
    });
    await bare.RunAsync();
    return 0;
}

// args: connectionString redisUrl secretKey channel streams rate seconds url1 pid1 url2 pid2 bareUrl barePid
var connectionString = args[0];
var redisUrl = args[1];
var secretKey = args[2];
var channel = args[3];
var streamCount = int.Parse(args[4]);
var rate = int.Parse(args[5]);
var seconds = int.Parse(args[6]);
var idleSeconds = int.Parse(Environment.GetEnvironmentVariable("IDLE_SECONDS") ?? "10");
var instances = new[] { (Url: args[7], Pid: int.Parse(args[8])), (Url: args[9], Pid: int.Parse(args[10])) };
var bareServer = (Url: args[11], Pid: int.Parse(args[12]));

await using var dataSource = NpgsqlDataSource.Create(connectionString);
Console.WriteLine($"stream: {streamCount} streams over 2 instances; {rate} notifications/s for {seconds} s; beside a bare Redis pub/sub round trip");

// Users straight into the database and access tokens from the product's TokenIssuer: registering 1,000 users
// through the API would spend a minute hashing passwords, which is not what this measures.
var users = Enumerable.Range(0, streamCount).Select(_ => Guid.CreateVersion7()).ToArray();
await using (var connection = await dataSource.OpenConnectionAsync())
{
    await connection.ExecuteAsync("""
        INSERT INTO users (id, email, email_normalized, display_name, password_hash)
        SELECT u, 'bench-' || u || '@example.com', 'bench-' || u || '@example.com', 'Bench', 'unusable' FROM unnest(@users) AS u
        """, new { users });
}
var issuer = new TokenIssuer(new SigningKey(Options.Create(new SecurityOptions { SecretKey = secretKey }), NullLogger<SigningKey>.Instance),
    Options.Create(new AuthOptions()), TimeProvider.System);
var tokens = new string[streamCount];
await using (var connection = await dataSource.OpenConnectionAsync())
await using (var transaction = await connection.BeginTransactionAsync())
{
    for (var i = 0; i < streamCount; i++)
    {
        tokens[i] = (await issuer.IssueAsync(connection, transaction, users[i], $"bench-{users[i]}@example.com", Guid.NewGuid(), CancellationToken.None)).AccessToken;
    }
    await transaction.CommitAsync();
}

// The product's Notifier, publishing on the instances' channel. Its hub has no streams here: only Route is used.
var redis = new RedisConnection(Options.Create(new RedisOptions { Url = redisUrl }));
var streamOptions = Options.Create(new StreamOptions { Channel = channel });
var hub = new StreamHub(null!, redis, null!, streamOptions, null!, TimeProvider.System, NullLogger<StreamHub>.Instance);
var notifier = new Notifier(new StreamPublisher(hub, redis, streamOptions, Options.Create(new RedisOptions { Url = redisUrl }), NullLogger<StreamPublisher>.Instance));

// Baseline: a bare pub/sub round trip on the same Redis, at the same rate, in this run.
var baseline = await RedisRoundTripAsync();

// Streams: warm-up (JIT, pools), RSS, then all of them open and idle, RSS again.
var clients = instances.Select(i => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
{
    BaseAddress = new Uri(i.Url), Timeout = Timeout.InfiniteTimeSpan,
}).ToArray();
var publishedAt = new ConcurrentDictionary<(Guid, long), long>();
var latencies = new ConcurrentBag<double>();
var createLatencies = new ConcurrentBag<double>();
var received = 0;
using var stopStreams = new CancellationTokenSource();

var warmUp = new List<Task>();
for (var i = 0; i < 20; i++) warmUp.Add(StreamAsync(i, stopStreams.Token, record: false));
await Task.Delay(2000);
for (var i = 0; i < 20; i++) await NotifyAsync(i, record: false);
await Task.Delay(1000);
// Control: how much the instances grow with no stream opened, over as long as opening and idling takes. A process
// that has just served its first requests keeps growing for a while (GC budgets, tiered JIT, pools) and that growth
// is not the streams'.
var settleSeconds = int.Parse(Environment.GetEnvironmentVariable("SETTLE_SECONDS") ?? "30");
var rssSettling = instances.Sum(i => Rss(i.Pid));
await Task.Delay(TimeSpan.FromSeconds(settleSeconds - idleSeconds - 3));
var rssSettled = instances.Sum(i => Rss(i.Pid));
await Task.Delay(TimeSpan.FromSeconds(idleSeconds + 3));
var rssBefore = instances.Sum(i => Rss(i.Pid));
Console.WriteLine($"RSS with no stream open: {rssSettling / 1048576.0:F1} MiB after warm-up, {rssSettled / 1048576.0:F1} MiB {settleSeconds - idleSeconds - 3} s later, " +
    $"{rssBefore / 1048576.0:F1} MiB after {idleSeconds + 3} s more (the drift left over the span the streams are measured over)");
Console.WriteLine($"before: threads: {string.Join(", ", instances.Select(i => Status(i.Pid, "Threads")))}; RSS anon/file: {string.Join(", ", instances.Select(i => Status(i.Pid, "RssAnon") + "/" + Status(i.Pid, "RssFile")))}");

// Opened 50 at a time, as browsers arrive, rather than in one burst that would measure the burst.
var opened = 0;
var streams = new List<Task>();
for (var i = 0; i < streamCount; i++)
{
    streams.Add(StreamAsync(i, stopStreams.Token, record: true, onOpen: () => Interlocked.Increment(ref opened)));
    if (i % 50 == 49) await Task.Delay(50);
}
var openDeadline = DateTime.UtcNow.AddSeconds(60);
while (Volatile.Read(ref opened) < streamCount && DateTime.UtcNow < openDeadline) await Task.Delay(100);
if (opened < streamCount) throw new InvalidOperationException($"only {opened} of {streamCount} streams opened");
var rssOpen = instances.Sum(i => Rss(i.Pid));
await Task.Delay(TimeSpan.FromSeconds(idleSeconds)); // idle: heartbeats only
var rssAfter = instances.Sum(i => Rss(i.Pid));
Console.WriteLine($"threads: {string.Join(", ", instances.Select(i => Status(i.Pid, "Threads")))}; RSS anon/file: {string.Join(", ", instances.Select(i => Status(i.Pid, "RssAnon") + "/" + Status(i.Pid, "RssFile")))}");
Console.WriteLine($"RSS: {rssBefore / 1048576.0:F1} MiB before, {rssOpen / 1048576.0:F1} MiB just after opening, {rssAfter / 1048576.0:F1} MiB after {idleSeconds} s idle");

// The floor: the same number of idle streams held by a bare SSE endpoint (no middleware, no authentication).
var bareClient = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue }) { BaseAddress = new Uri(bareServer.Url), Timeout = Timeout.InfiniteTimeSpan };
var bareOpened = 0;
var bareStreams = new List<Task>();
for (var i = 0; i < 20; i++) bareStreams.Add(BareStreamAsync(() => { }));
await Task.Delay(2000);
var bareBefore = Rss(bareServer.Pid);
for (var i = 0; i < streamCount; i++)
{
    bareStreams.Add(BareStreamAsync(() => Interlocked.Increment(ref bareOpened)));
    if (i % 50 == 49) await Task.Delay(50);
}
while (Volatile.Read(ref bareOpened) < streamCount && DateTime.UtcNow < openDeadline.AddSeconds(60)) await Task.Delay(100);
await Task.Delay(TimeSpan.FromSeconds(idleSeconds));
var bareAfter = Rss(bareServer.Pid);

// Steady rate: one notification per tick to a random user, each in its own transaction, a few in flight at once.
var sent = 0;
var random = new Random(7);
var gate = new SemaphoreSlim(16);
var inFlight = new List<Task>();
var start = Stopwatch.GetTimestamp();
for (var n = 0; n < rate * seconds; n++)
{
    var due = TimeSpan.FromSeconds((double)n / rate) - Stopwatch.GetElapsedTime(start);
    if (due > TimeSpan.Zero) await Task.Delay(due);
    await gate.WaitAsync();
    var user = random.Next(streamCount);
    inFlight.Add(Task.Run(async () => { try { await NotifyAsync(user, record: true); Interlocked.Increment(ref sent); } finally { gate.Release(); } }));
}
await Task.WhenAll(inFlight);
var drainDeadline = DateTime.UtcNow.AddSeconds(10);
while (Volatile.Read(ref received) < sent && DateTime.UtcNow < drainDeadline) await Task.Delay(50);
stopStreams.Cancel();

var stream = Percentiles(latencies);
var create = Percentiles(createLatencies);
Console.WriteLine($"redis pub/sub round trip (baseline): p50 {baseline.P50:F2} ms, p99 {baseline.P99:F2} ms");
Console.WriteLine($"publish-to-receive over SSE:        p50 {stream.P50:F2} ms, p99 {stream.P99:F2} ms  ({received}/{sent} received)");
Console.WriteLine($"create-to-receive (with commit):     p50 {create.P50:F2} ms, p99 {create.P99:F2} ms");
Console.WriteLine($"ratio p99 stream / p99 redis: {stream.P99 / baseline.P99:F1}  (target: p99 < 50 ms at {streamCount} streams)");
var perStream = (rssAfter - rssBefore) / 1024.0 / streamCount;
var barePerStream = (bareAfter - bareBefore) / 1024.0 / streamCount;
Console.WriteLine($"RSS of both instances: {rssBefore / 1024.0 / 1024:F1} MiB before, {rssAfter / 1024.0 / 1024:F1} MiB with {streamCount} idle streams: " +
    $"{perStream:F1} KiB per stream (target < 16 KiB)");
Console.WriteLine($"bare SSE endpoint (floor): {barePerStream:F1} KiB per idle stream; ratio ours / bare: {perStream / barePerStream:F1}");
return received == sent ? 0 : 1;

async Task NotifyAsync(int userIndex, bool record)
{
    var createdAt = Stopwatch.GetTimestamp();
    await using var connection = await dataSource.OpenConnectionAsync();
    await using var transaction = await connection.BeginTransactionAsync();
    var events = await notifier.NotifyAsync(connection, transaction, [users[userIndex]], null,
        new NotificationDraft("bench.notice", "Bench", null, new { t = createdAt }), CancellationToken.None);
    await transaction.CommitAsync();
    if (record) publishedAt[(events[0].UserId, events[0].Seq)] = Stopwatch.GetTimestamp();
    await notifier.PublishAsync(events);
}

async Task StreamAsync(int userIndex, CancellationToken cancellationToken, bool record, Action? onOpen = null)
{
    var client = clients[userIndex % 2];
    using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/stream");
    request.Headers.Authorization = new("Bearer", tokens[userIndex]);
    try
    {
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        long id = 0;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.StartsWith("id: ")) id = long.Parse(line.AsSpan(4));
            else if (line == "event: stream.open") onOpen?.Invoke();
            else if (record && line.StartsWith("data: ") && line.Contains("bench.notice"))
            {
                var now = Stopwatch.GetTimestamp();
                if (publishedAt.TryGetValue((users[userIndex], id), out var published)) latencies.Add(Stopwatch.GetElapsedTime(published, now).TotalMilliseconds);
                var t = long.Parse(Regex.Match(line, "\"t\":(\\d+)").Groups[1].Value);
                createLatencies.Add(Stopwatch.GetElapsedTime(t, now).TotalMilliseconds);
                Interlocked.Increment(ref received);
            }
        }
    }
    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
    {
    }
}

async Task BareStreamAsync(Action onOpen)
{
    try
    {
        using var response = await bareClient.GetAsync("/api/v1/stream", HttpCompletionOption.ResponseHeadersRead, stopStreams.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stopStreams.Token));
        while (await reader.ReadLineAsync(stopStreams.Token) is { } line)
        {
            if (line == "event: stream.open") onOpen();
        }
    }
    catch (OperationCanceledException) when (stopStreams.IsCancellationRequested)
    {
    }
}

async Task<(double P50, double P99)> RedisRoundTripAsync()
{
    var multiplexer = await redis.GetMultiplexerAsync(CancellationToken.None);
    var times = new ConcurrentBag<double>();
    var probe = RedisChannel.Literal($"{channel}-baseline");
    var queue = await multiplexer.GetSubscriber().SubscribeAsync(probe);
    queue.OnMessage(message => times.Add(Stopwatch.GetElapsedTime((long)message.Message).TotalMilliseconds));
    var begin = Stopwatch.GetTimestamp();
    for (var n = 0; n < rate * Math.Min(seconds, 5); n++)
    {
        var due = TimeSpan.FromSeconds((double)n / rate) - Stopwatch.GetElapsedTime(begin);
        if (due > TimeSpan.Zero) await Task.Delay(due);
        await multiplexer.GetSubscriber().PublishAsync(probe, Stopwatch.GetTimestamp());
    }
    await Task.Delay(500);
    await queue.UnsubscribeAsync();
    return Percentiles(times);
}

static (double P50, double P99) Percentiles(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    if (sorted.Length == 0) return (double.NaN, double.NaN);
    return (sorted[(int)(sorted.Length * 0.50)], sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * 0.99))]);
}

static string Status(int pid, string field) => File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":")).Split(':')[1].Trim();

static long Rss(int pid)
{
    var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:"));
    return long.Parse(Regex.Match(line, @"\d+").Value) * 1024;
}
