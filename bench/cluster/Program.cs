using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;

// Arguments from bench/cluster/run.sh: repository root, Service.dll, nginx binary, work folder, seconds per phase,
// agents, readers, profile ("full": every fault; "short": one of each kind, for the test suite, which judges only
// what must never happen, not throughput on a shared machine). The dependencies' settings come in the environment.
var (root, app, nginxBin, work) = (args[0], args[1], args[2], args[3]);
var phaseSeconds = int.Parse(args[4]);
var agentCount = int.Parse(args[5]);
var readerCount = int.Parse(args[6]);
var shortProfile = args.Length > 7 && args[7] == "short";
var streamUsers = int.Parse(Environment.GetEnvironmentVariable("STREAM_USERS") ?? (shortProfile ? "10" : "50"));
var streamsPerUser = int.Parse(Environment.GetEnvironmentVariable("STREAMS_PER_USER") ?? (shortProfile ? "2" : "4"));
// FAULTS picks some (redis-stopped, redis-hung, pg-stopped, pg-hung, s3-stopped, s3-hung, sigterm, sigkill), to look at one closely.
var chosen = (Environment.GetEnvironmentVariable("FAULTS") is { Length: > 0 } faultList ? faultList
    : shortProfile ? "redis-stopped,pg-hung,sigterm,sigkill" : "redis-stopped,redis-hung,pg-stopped,pg-hung,s3-stopped,s3-hung,sigterm,sigkill").Split(',');
var warmUpSeconds = int.Parse(Environment.GetEnvironmentVariable("WARMUP_SECONDS") ?? (shortProfile ? "4" : "30"));
var secret = "cluster-secret-" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()) + Convert.ToBase64String(Guid.NewGuid().ToByteArray());
var encryptionKey = "cluster-encryption-" + Convert.ToBase64String(Guid.NewGuid().ToByteArray()) + Convert.ToBase64String(Guid.NewGuid().ToByteArray());

var instances = Enumerable.Range(1, 3).Select(i => new Instance(i, FreePort(), app, work, secret, encryptionKey)).ToList();
var nginxPort = FreePort();
Process? nginx = null;
LiveStreams? streams = null;
try
{
    foreach (var instance in instances) instance.Start();
    foreach (var instance in instances) await instance.WaitReadyAsync(TimeSpan.FromSeconds(60));
    nginx = StartNginx(nginxBin, work, nginxPort, instances);
    var baseUrl = $"http://127.0.0.1:{nginxPort}";
    await WaitAsync(async () => (await new HttpClient().GetAsync(baseUrl + "/health/live")).IsSuccessStatusCode, TimeSpan.FromSeconds(10));

    // One organization, its owner, one agent key per agent.
    using var setup = new HttpClient { BaseAddress = new Uri(baseUrl) };
    var email = $"cluster-{Guid.NewGuid():N}@example.com";
    (await setup.PostAsJsonAsync("/api/v1/auth/register", new { email, password = "cluster passphrase 1", displayName = "Cluster" })).EnsureSuccessStatusCode();
    var login = await (await setup.PostAsJsonAsync("/api/v1/auth/login", new { email, password = "cluster passphrase 1" })).Content.ReadFromJsonAsync<JsonElement>();
    setup.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.GetProperty("accessToken").GetString());
    var orgId = (await (await setup.PostAsJsonAsync("/api/v1/orgs", new { name = "Cluster" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    var keys = new List<string>();
    for (var i = 0; i < agentCount; i++)
    {
        var key = await (await setup.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name = $"agent {i}" })).Content.ReadFromJsonAsync<JsonElement>();
        keys.Add(key.GetProperty("key").GetString()!);
    }

    // The operator who toggles a flag at the end.
    (await setup.PostAsJsonAsync("/api/v1/auth/register", new { email = Instance.Operator, password = "cluster passphrase 1", displayName = "Ops" })).EnsureSuccessStatusCode();
    var opsLogin = await (await setup.PostAsJsonAsync("/api/v1/auth/login", new { email = Instance.Operator, password = "cluster passphrase 1" })).Content.ReadFromJsonAsync<JsonElement>();
    var userToken = login.GetProperty("accessToken").GetString()!;

    // The tenant at its limit: a user of its own asking for exports (2 a minute) four times a second.
    var limitedEmail = $"limited-{Guid.NewGuid():N}@example.com";
    (await setup.PostAsJsonAsync("/api/v1/auth/register", new { email = limitedEmail, password = "cluster passphrase 1", displayName = "Limited" })).EnsureSuccessStatusCode();
    var limitedLogin = await (await setup.PostAsJsonAsync("/api/v1/auth/login", new { email = limitedEmail, password = "cluster passphrase 1" })).Content.ReadFromJsonAsync<JsonElement>();

    var load = new Load(baseUrl, orgId, userToken, keys, readerCount) { LimitedToken = limitedLogin.GetProperty("accessToken").GetString() };

    // The workflows, their receiver, and the members whose live streams get each scheduled run's notification.
    await using var receiver = new WebhookReceiver(() => load.Now);
    await receiver.StartAsync();
    var automation = await Automation.CreateAsync(load, receiver, load.Client("Bearer", userToken));
    streams = new LiveStreams(baseUrl, load);
    var streamUserIds = new List<Guid>();
    await Parallel.ForEachAsync(Enumerable.Range(0, streamUsers), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
    {
        var memberEmail = $"member-{i}-{Guid.NewGuid():N}@example.com";
        using var client = new HttpClient { BaseAddress = new Uri(baseUrl) };
        var registered = await client.PostAsJsonAsync("/api/v1/auth/register", new { email = memberEmail, password = "cluster passphrase 1", displayName = $"Member {i}" });
        var memberId = (await registered.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var memberLogin = await (await client.PostAsJsonAsync("/api/v1/auth/login", new { email = memberEmail, password = "cluster passphrase 1" })).Content.ReadFromJsonAsync<JsonElement>();
        await automation.AddMemberAsync(memberEmail);
        lock (streamUserIds)
        {
            streamUserIds.Add(memberId);
            streams.Start(memberId, memberLogin.GetProperty("accessToken").GetString()!, streamsPerUser);
        }
    });
    var opened = await streams.WaitOpenAsync(TimeSpan.FromSeconds(30));
    if (opened < streams.All.Count) throw new InvalidOperationException($"only {opened} of {streams.All.Count} live streams opened");
    await automation.StartAsync();
    var loadTask = load.RunAsync();
    var faults = new List<FaultResult>();
    var redisRestarts = new List<long>(); // Unix seconds: a Redis without persistence starts with no counters
    async Task<(double Ingest, double Reads)> WindowAsync(int seconds)
    {
        var from = load.Now;
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        return (load.Rate("ingest", from, load.Now), load.Rate("reads", from, load.Now));
    }

    Console.WriteLine($"three instances behind nginx on 127.0.0.1:{nginxPort}; {agentCount} agents, {readerCount} readers, {streams.All.Count} live streams, " +
                      $"workflows every second, on events and by hand; {phaseSeconds} s per phase");
    await WindowAsync(warmUpSeconds); // warm-up: tiered JIT, pools, plans, the first autovacuums, so the baseline is the steady state
    var baseline = await WindowAsync(phaseSeconds);
    Console.WriteLine($"baseline: ingest {baseline.Ingest:N0} events/s, reads {baseline.Reads:N0} pages/s, uploads {load.Rate("uploads", load.Now - phaseSeconds, load.Now):N0}/s");
    // Each fault is compared with the seconds just before it (the second half of the previous recovery, past its
    // catch-up): throughput on this shared machine drifts within a run by more than the target allows.
    var before = baseline;
    async Task RecoverAsync()
    {
        var from = load.Now;
        await Task.Delay(TimeSpan.FromSeconds(phaseSeconds));
        var half = from + phaseSeconds / 2.0;
        before = (load.Rate("ingest", half, load.Now), load.Rate("reads", half, load.Now));
    }

    var dependencyFaults = new (string Name, string Server, bool Hung)[]
    {
        ("Redis", "redis", false), ("Redis", "redis", true), ("PostgreSQL", "pg", false), ("PostgreSQL", "pg", true), ("s3rver", "s3", false), ("s3rver", "s3", true),
    }.Where(f => chosen.Contains($"{f.Server}-{(f.Hung ? "hung" : "stopped")}"));
    foreach (var group in dependencyFaults.GroupBy(f => (f.Name, f.Server)))
    {
        var (name, server) = group.Key;
        foreach (var hung in group.Select(f => f.Hung))
        {
            var label = $"{name} {(hung ? "hung (SIGSTOP)" : "stopped")}";
            var unexpectedBefore = load.Unexpected.Count;
            var from = load.Now;
            if (hung) Signal(root, server, "STOP"); else Services(root, "stop", server);
            var during = await WindowAsync(phaseSeconds);
            var restored = Stopwatch.StartNew();
            if (hung) Signal(root, server, "CONT"); else Services(root, "start", server);
            if (!hung && server == "redis") redisRestarts.Add(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            var ready = await AllReadyAsync(instances, TimeSpan.FromSeconds(60));
            faults.Add(new FaultResult(label, server, before, during, ready ? restored.Elapsed.TotalSeconds : double.NaN, load.Unexpected.Count - unexpectedBefore, from, from + phaseSeconds));
            Console.WriteLine($"  {label}: done");
            await RecoverAsync();
        }
    }
    foreach (var (label, kill) in new[] { ("instance 1 SIGTERMed and restarted", false), ("instance 2 SIGKILLed and restarted", true) }
                 .Where(f => chosen.Contains(f.Item2 ? "sigkill" : "sigterm")))
    {
        var unexpectedBefore = load.Unexpected.Count;
        var target = instances[kill ? 1 : 0];
        var from = load.Now;
        var restored = Stopwatch.StartNew();
        load.Killing = kill;
        if (kill) { load.Kills.Add(load.Now); target.Kill(); } else await target.TerminateAsync(TimeSpan.FromSeconds(40));
        await Task.Delay(TimeSpan.FromSeconds(1)); // answers of requests cut by the kill arrive within it
        load.Killing = false;
        target.Start();
        var ready = await AllReadyAsync(instances, TimeSpan.FromSeconds(60));
        var seconds = restored.Elapsed.TotalSeconds;
        var rest = Math.Max(1, phaseSeconds - (int)seconds);
        await Task.Delay(TimeSpan.FromSeconds(rest));
        faults.Add(new FaultResult(label, "instance", before, (load.Rate("ingest", from, load.Now), load.Rate("reads", from, load.Now)), ready ? seconds : double.NaN,
            load.Unexpected.Count - unexpectedBefore, from, load.Now));
        Console.WriteLine($"  {label}: done");
        await RecoverAsync();
    }

    // The workflows' triggers go off before the drill: what the drill's kill switch drops by design (fires, matched
    // events) is not what the summary counts as missed.
    await automation.StopAsync();

    // An operator turns a kill switch off and on again through the load balancer: how long until every instance obeys.
    using var ops = new HttpClient { BaseAddress = new Uri(baseUrl) };
    ops.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", opsLogin.GetProperty("accessToken").GetString());
    var obeyed = new List<double>();
    foreach (var enabled in new[] { false, true })
    {
        (await ops.PutAsJsonAsync("/api/v1/admin/features/Workflows", new { enabled, reason = "cluster drill" })).EnsureSuccessStatusCode();
        var clock = Stopwatch.StartNew();
        var expected = enabled ? HttpStatusCode.OK : HttpStatusCode.ServiceUnavailable;
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        probe.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", userToken);
        while (true)
        {
            var answers = await Task.WhenAll(instances.Select(i => probe.GetAsync($"http://127.0.0.1:{i.Port}/api/v1/orgs/{orgId}/workflows")));
            if (answers.All(a => a.StatusCode == expected)) break;
            if (clock.Elapsed > TimeSpan.FromSeconds(30)) break;
            await Task.Delay(20);
        }
        obeyed.Add(clock.Elapsed.TotalSeconds);
    }

    load.Stop();
    await loadTask;

    await using var db = NpgsqlDataSource.Create(ConnectionString(Environment.GetEnvironmentVariable("DATABASE_URL")!));
    var workflows = await automation.CheckAsync(db);
    // Every notification reaches every open stream of its user (give the streams the catch-up bound to get there).
    var notifications = await automation.NotificationsAsync(db);
    int NotReceived() => streams.All.Sum(s => notifications[s.UserId].Count(id => !s.Notifications.ContainsKey(id)));
    var catchUp = Stopwatch.StartNew();
    while (NotReceived() > 0 && catchUp.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(250);
    var notReceived = NotReceived();
    await streams.StopAsync();

    // Every acknowledged event is stored, once.
    var stored = new HashSet<string>();
    await using (var command = db.CreateCommand($"SELECT client_event_id FROM events WHERE org_id = '{orgId}'"))
    await using (var reader = await command.ExecuteReaderAsync())
    {
        while (await reader.ReadAsync()) stored.Add(reader.GetString(0));
    }
    var missing = load.Acknowledged.Count(id => !stored.Contains(id));
    // Every upload answered 201 has its object (s3rver answers HEAD without signatures).
    var keysById = new Dictionary<Guid, string>();
    var statusByKey = new Dictionary<string, string>();
    await using (var command = db.CreateCommand($"SELECT id, storage_key, status FROM uploads WHERE org_id = '{orgId}'"))
    await using (var reader = await command.ExecuteReaderAsync())
    {
        while (await reader.ReadAsync())
        {
            keysById[reader.GetGuid(0)] = reader.GetString(1);
            statusByKey[reader.GetString(1)] = reader.GetString(2);
        }
    }
    using var s3 = new HttpClient();
    var s3Base = $"{Environment.GetEnvironmentVariable("S3_ENDPOINT")}/{Environment.GetEnvironmentVariable("S3_BUCKET")}";
    var uploadsMissing = 0;
    foreach (var id in load.Uploaded)
    {
        if (!keysById.TryGetValue(id, out var key) || !(await s3.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"{s3Base}/{key}"))).IsSuccessStatusCode) uploadsMissing++;
    }
    // Every object in the bucket has a row: one that is not ready (an upload cut off, never completed) is the
    // cleanup job's to delete once its time and grace are over; one without any row nothing would ever delete.
    // ListObjects version 1 with a marker: s3rver's version 2 continuation tokens fail on current OpenSSL.
    var objects = new List<string>();
    while (true)
    {
        var page = System.Xml.Linq.XDocument.Parse(await s3.GetStringAsync(
            $"{s3Base}?prefix=orgs/{orgId}/{(objects.Count == 0 ? "" : "&marker=" + Uri.EscapeDataString(objects[^1]))}"));
        var ns = page.Root!.Name.Namespace;
        objects.AddRange(page.Root.Elements(ns + "Contents").Select(c => c.Element(ns + "Key")!.Value));
        if (page.Root.Element(ns + "IsTruncated")?.Value != "true") break;
    }
    var objectsWithoutRow = objects.Count(k => !statusByKey.ContainsKey(k));
    var objectsAwaitingCleanup = objects.Count(k => statusByKey.TryGetValue(k, out var status) && status != "ready");
    var twice = Convert.ToInt64(await db.CreateCommand(
        $"SELECT count(*) FROM (SELECT 1 FROM events WHERE org_id = '{orgId}' GROUP BY source_id, client_event_id HAVING count(*) > 1) d").ExecuteScalarAsync());

    Console.WriteLine();
    Console.WriteLine("throughput during each fault against the seconds just before it (ingest: events/s, reads: pages/s)");
    Console.WriteLine($"{"fault",-36} {"ingest before",14} {"during",7} {"ratio",6} {"reads before",13} {"during",7} {"ratio",6} {"ready again",12} {"unexpected",11}");
    foreach (var f in faults)
    {
        Console.WriteLine($"{f.Label,-36} {f.Before.Ingest,14:N0} {f.During.Ingest,7:N0} {f.During.Ingest / f.Before.Ingest,6:0.00} " +
                          $"{f.Before.Reads,13:N0} {f.During.Reads,7:N0} {f.During.Reads / f.Before.Reads,6:0.00} " +
                          $"{(double.IsNaN(f.ReadySeconds) ? "never" : $"{f.ReadySeconds:0.0} s"),12} {f.Unexpected,11}");
    }
    // Per second, so that a stall shows even when nothing fails; the whole run is in throughput.csv.
    Console.WriteLine();
    Console.WriteLine("per second during each fault (ingest in thousands of events, then read pages):");
    foreach (var f in faults)
    {
        Console.WriteLine($"  {f.Label,-36} {string.Join(" ", load.PerSecond("ingest", f.From, f.To).Select(n => $"{n / 1000.0,4:0.0}"))}");
        Console.WriteLine($"  {"",-36} {string.Join(" ", load.PerSecond("reads", f.From, f.To).Select(n => $"{n,4}"))}");
    }
    load.WriteCsv(Path.Combine(work, "throughput.csv"));
    Console.WriteLine();
    Console.WriteLine("summary");
    Console.WriteLine($"  requests: {load.Total:N0}; answers other than 2xx, an expected 4xx (429 with Retry-After) or 503 with Retry-After: {load.Unexpected.Count} (target 0)");
    foreach (var group in load.Unexpected.GroupBy(u => u.What).OrderByDescending(g => g.Count()).Take(8)) Console.WriteLine($"    {group.Count(),6} x {group.Key}");
    Console.WriteLine($"  acknowledged events: {load.Acknowledged.Count:N0}; missing from PostgreSQL: {missing} (target 0); stored twice: {twice} (target 0)");
    Console.WriteLine($"  uploads answered 201: {load.Uploaded.Count:N0}; without their object: {uploadsMissing} (target 0); " +
                      $"cut by the SIGKILL while in flight (502, not acknowledged, not safe for nginx to send again): {load.CutByKill}");
    Console.WriteLine($"  objects in storage: {objects.Count:N0}; without a row: {objectsWithoutRow} (target 0); with a row not ready, for the cleanup job " +
                      $"(past the upload's hour and its grace): {objectsAwaitingCleanup}; direct PUTs refused by storage while it was down: {load.StorageRefusedPuts}");
    Console.WriteLine($"  a kill switch turned off, then on, through the load balancer: every instance obeyed within {obeyed[0]:0.00} s and {obeyed[1]:0.00} s (target < 1)");
    // A window is known by the second it resets (the limiter's windows are whole minutes and hours of its clock),
    // give or take the second an answer took: rounded to the window's length.
    int AboveLimit(string window, int seconds, int limit) => load.AllowedExports.Where(w => w.Key.Window == window)
        .GroupBy(w => Math.Round(w.Key.End / (double)seconds)).Sum(g => Math.Max(0, g.Sum(w => w.Value) - limit));
    var aboveLimit = AboveLimit("exports-minute", 60, 2) + AboveLimit("exports-hour", 3600, 10);
    Console.WriteLine($"  the tenant at its limit (exports, 2 a minute, 10 an hour, across three instances): {load.AllowedExports.Where(w => w.Key.Window == "exports-minute").Sum(w => w.Value)} allowed, " +
                      $"{aboveLimit} above the limit (target 0)");
    foreach (var over in load.AllowedExports.Where(w => w.Key.Window == "exports-minute").GroupBy(w => (long)Math.Round(w.Key.End / 60.0) * 60)
                 .Where(g => g.Sum(w => w.Value) > 2))
    {
        var restarted = redisRestarts.Any(r => r > over.Key - 60 && r <= over.Key);
        Console.WriteLine($"    minute window ending {DateTimeOffset.FromUnixTimeSeconds(over.Key):HH:mm:ss}: {over.Sum(w => w.Value)} allowed; Redis restarted within it: {(restarted ? "yes" : "no")}");
    }
    Console.WriteLine($"  workflow runs: {workflows.Runs:N0} ({string.Join(", ", workflows.ByStatus.OrderByDescending(s => s.Value).Select(s => $"{s.Value:N0} {s.Key}"))}); " +
                      $"left queued or running a minute after the load: {workflows.LeftOpen} (target 0)");
    Console.WriteLine($"    every second: {workflows.ScheduleSeconds} fires due, missed {workflows.ScheduleMissed}, run twice {workflows.ScheduleTwice} (target 0 and 0); " +
                      $"skipped while the operator's switch was off: {workflows.ScheduleSkippedBySwitch}");
    Console.WriteLine($"    on events: {workflows.EventsAcknowledged} matching events acknowledged, without a run {workflows.EventsMissed}, with two {workflows.EventsTwice} (target 0 and 0); " +
                      $"by hand: {workflows.ManualAcknowledged} answered 202, not stored {workflows.ManualMissing} (target 0)");
    Console.WriteLine($"    webhooks: {workflows.WebhooksReceived:N0} webhook-ids received; a succeeded run's never received: {workflows.SucceededNotReceived}; " +
                      $"answered 2xx more than once: {workflows.DeliveredTwice} (target 0), and {workflows.DeliveredTwiceAfterKill} answered just before a SIGKILL and sent again " +
                      $"(at least once, same webhook-id); bad signatures: {workflows.BadSignatures}");
    Console.WriteLine($"  live streams: {streams.All.Count}, {streams.All.Sum(s => s.Connects) - streams.All.Count} reconnects, {streams.All.Sum(s => s.Resets)} resets; " +
                      $"notifications {notifications.Sum(g => g.Count()):N0}, (notification, stream) pairs never received after recovery: {notReceived} (target 0)");
    var independent = faults.Where(f => f.Server is "redis" or "s3").ToList();
    var worst = independent.Count == 0 ? double.NaN : independent.Min(f => Math.Min(f.During.Ingest / f.Before.Ingest, f.During.Reads / f.Before.Reads));
    Console.WriteLine($"  throughput of requests that do not need the missing dependency (Redis, s3rver faults): worst ratio {worst:0.00} (target >= 0.8)");
    var slowest = faults.Where(f => f.Server != "instance").Select(f => f.ReadySeconds).DefaultIfEmpty(0).Max();
    Console.WriteLine($"  seconds from a dependency's return until every instance is Ready: at most {slowest:0.0} (target < 5)");
    var promisesKept = load.Unexpected.Count == 0 && missing == 0 && twice == 0 && uploadsMissing == 0 && objectsWithoutRow == 0 && !faults.Any(f => double.IsNaN(f.ReadySeconds))
        && obeyed.All(s => s < (shortProfile ? 5 : 1))
        && workflows is { LeftOpen: 0, ScheduleMissed: 0, ScheduleTwice: 0, EventsMissed: 0, EventsTwice: 0, ManualMissing: 0, SucceededNotReceived: 0, DeliveredTwice: 0, BadSignatures: 0 }
        && notReceived == 0;
    // The full profile also holds the figures and the rate limit to their targets. The short one does not: it runs
    // beside other work, and a Redis restarted without persistence forgets the limiter's counters (see bench/README).
    return promisesKept && (shortProfile || (!(worst < 0.8) && slowest < 5 && aboveLimit == 0)) ? 0 : 1;
}
finally
{
    if (streams is not null) await streams.StopAsync();
    if (nginx is { HasExited: false }) { nginx.Kill(entireProcessTree: true); nginx.WaitForExit(); }
    foreach (var instance in instances) instance.Kill();
    foreach (var server in new[] { "redis", "pg", "s3" }) Signal(root, server, "CONT"); // nothing stays frozen
    Services(root, "start", "all");
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout)
{
    var deadline = DateTime.UtcNow + timeout;
    while (true)
    {
        try { if (await condition()) return; } catch (HttpRequestException) { }
        if (DateTime.UtcNow > deadline) throw new TimeoutException("not reached in time");
        await Task.Delay(100);
    }
}

static async Task<bool> AllReadyAsync(List<Instance> instances, TimeSpan timeout)
{
    try
    {
        await WaitAsync(async () => (await Task.WhenAll(instances.Select(i => i.IsReadyAsync()))).All(r => r), timeout);
        return true;
    }
    catch (TimeoutException) { return false; }
}

static void Services(string root, string command, string server) => Run(root, "bash", $"scripts/services.sh {command} cluster {server}");

static void Signal(string root, string server, string signal)
{
    var pids = Run(root, "bash", $"scripts/services.sh pids cluster {server}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
    if (pids.Length > 0) Run(root, "kill", $"-{signal} {string.Join(' ', pids)}");
}

static string Run(string root, string file, string arguments)
{
    var info = new ProcessStartInfo(file, arguments) { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
    using var process = Process.Start(info)!;
    var output = process.StandardOutput.ReadToEnd();
    process.StandardError.ReadToEnd();
    process.WaitForExit();
    return output;
}

static Process StartNginx(string nginxBin, string work, int port, List<Instance> instances)
{
    var prefix = Path.Combine(work, "nginx");
    Directory.CreateDirectory(Path.Combine(prefix, "logs"));
    // Ingest is safe to send again (clientEventIds and Idempotency-Keys): when an instance dies under a batch, nginx
    // passes it to the next instance. Other POSTs are not retried by nginx.
    File.WriteAllText(Path.Combine(prefix, "nginx.conf"), $$"""
        worker_processes 1;
        daemon off;
        pid {{prefix}}/nginx.pid;
        error_log {{prefix}}/logs/error.log warn;
        events { worker_connections 2048; }
        http {
            access_log off;
            client_body_temp_path {{prefix}}/client_body;
            proxy_temp_path {{prefix}}/proxy;
            fastcgi_temp_path {{prefix}}/fastcgi;
            uwsgi_temp_path {{prefix}}/uwsgi;
            scgi_temp_path {{prefix}}/scgi;
            client_max_body_size 16m;
            upstream service {
        {{string.Join("\n", instances.Select(i => $"        server 127.0.0.1:{i.Port} max_fails=1 fail_timeout=2s;"))}}
                keepalive 64;
            }
            server {
                listen 127.0.0.1:{{port}};
                proxy_http_version 1.1;
                proxy_set_header Connection "";
                proxy_set_header X-Forwarded-For $remote_addr;
                proxy_read_timeout 30s;
                proxy_next_upstream error timeout;
                location ~ ^/api/v1/orgs/[^/]+/events$ {
                    proxy_pass http://service;
                    proxy_next_upstream error timeout non_idempotent;
                }
                location / { proxy_pass http://service; }
            }
        }
        """);
    var info = new ProcessStartInfo(nginxBin, $"-p {prefix} -c {prefix}/nginx.conf") { RedirectStandardError = true, RedirectStandardOutput = true };
    return Process.Start(info)!;
}

static string ConnectionString(string url)
{
    var uri = new Uri(url);
    var user = uri.UserInfo.Split(':');
    return $"Host={uri.Host};Port={uri.Port};Username={user[0]};Password={(user.Length > 1 ? user[1] : "")};Database={uri.AbsolutePath.TrimStart('/')}";
}

record FaultResult(string Label, string Server, (double Ingest, double Reads) Before, (double Ingest, double Reads) During, double ReadySeconds, int Unexpected, double From, double To);
