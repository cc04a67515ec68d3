using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

/// <summary>
/// The checked workload: agents send batches of 50 events with clientEventIds and an Idempotency-Key and send the same
/// batch again until it is acknowledged (as agents do); readers page the newest events; a user uploads small files. Every answer is classified:
/// 2xx and 503 with Retry-After are expected, anything else (a 5xx, a 502 from nginx, a refused connection) is not.
/// </summary>
sealed class Load(string baseUrl, Guid orgId, string userToken, List<string> agentKeys, int readers)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentDictionary<(string Kind, long Second), long> _done = new();
    private readonly CancellationTokenSource _stop = new();
    private long _total;

    public record Problem(double At, string Kind, string What);

    public ConcurrentQueue<Problem> Unexpected { get; } = new();

    /// <summary>
    /// Set while an instance is being SIGKILLed: a request that is not safe to send again (an upload) in flight on it
    /// cannot be answered by anyone, and nginx rightly does not pass it on. Its 502 is counted here, not as unexpected:
    /// nothing was acknowledged, and the client knows it.
    /// </summary>
    public volatile bool Killing;
    public long CutByKill => Interlocked.Read(ref _cutByKill);
    private long _cutByKill;
    public ConcurrentBag<string> Acknowledged { get; } = new();
    public long Total => Interlocked.Read(ref _total);
    public double Now => _clock.Elapsed.TotalSeconds;

    public void Stop() => _stop.Cancel();

    /// <summary>Counts a request made outside this class (streams, workflow runs).</summary>
    public void Count() => Interlocked.Increment(ref _total);

    public CancellationToken Stopping => _stop.Token;

    /// <summary>When (seconds of this clock) an instance was SIGKILLed: a webhook answered just before cannot have been recorded.</summary>
    public ConcurrentBag<double> Kills { get; } = new();

    /// <summary>Successful units (events acknowledged, pages read) per second between two moments.</summary>
    public double Rate(string kind, double from, double to)
    {
        long sum = 0;
        for (var second = (long)Math.Ceiling(from); second < (long)Math.Floor(to); second++) sum += _done.GetValueOrDefault((kind, second));
        var seconds = Math.Floor(to) - Math.Ceiling(from);
        return seconds <= 0 ? 0 : sum / seconds;
    }

    /// <summary>Units done in each whole second between two moments.</summary>
    public IEnumerable<long> PerSecond(string kind, double from, double to)
    {
        for (var second = (long)Math.Ceiling(from); second < (long)Math.Floor(to); second++) yield return _done.GetValueOrDefault((kind, second));
    }

    /// <summary>Every second of the run: events acknowledged, pages read, uploads, exports allowed.</summary>
    public void WriteCsv(string path)
    {
        string[] kinds = ["ingest", "reads", "uploads", "exports"];
        var lines = new List<string> { "second," + string.Join(',', kinds) };
        for (var second = 0L; second < (long)Now; second++) lines.Add($"{second},{string.Join(',', kinds.Select(k => _done.GetValueOrDefault((k, second))))}");
        File.WriteAllLines(path, lines);
    }

    /// <summary>Uploads answered 201, by id.</summary>
    public ConcurrentBag<Guid> Uploaded { get; } = new();

    public Task RunAsync() => Task.WhenAll(
        agentKeys.Select((key, i) => AgentAsync(i, key)).Concat(Enumerable.Range(0, readers).Select(_ => ReaderAsync())).Append(UploaderAsync()).Append(LimitedAsync()));

    /// <summary>
    /// The exports each minute and hour window allowed to the tenant at its limit, by window: the window is told by the
    /// answer's own RateLimit header (seconds until it resets), so a decision near a boundary is not misplaced.
    /// </summary>
    public ConcurrentDictionary<(string Window, long End), int> AllowedExports { get; } = new();

    /// <summary>Set before the load starts: the tenant that asks for its account export four times a second.</summary>
    public string? LimitedToken { get; set; }

    private async Task LimitedAsync()
    {
        if (LimitedToken is null) return;
        using var client = Client("Bearer", LimitedToken);
        while (!_stop.IsCancellationRequested)
        {
            Interlocked.Increment(ref _total);
            try
            {
                using var response = await client.GetAsync("/api/v1/account/export");
                await response.Content.ReadAsByteArrayAsync();
                var received = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
                if (response.IsSuccessStatusCode)
                {
                    foreach (var part in string.Join(",", response.Headers.GetValues("RateLimit")).Split(','))
                    {
                        var fields = part.Trim().Split(';');
                        var reset = fields.FirstOrDefault(f => f.StartsWith("t=", StringComparison.Ordinal));
                        if (reset is null) continue;
                        var window = fields[0].Trim('"');
                        AllowedExports.AddOrUpdate((window, received + long.Parse(reset[2..])), 1, (_, n) => n + 1);
                    }
                    Count("exports", 1);
                }
                else if (response.StatusCode != HttpStatusCode.TooManyRequests && !(response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null))
                {
                    Unexpected.Enqueue(new Problem(Now, "exports", $"exports {(int)response.StatusCode}"));
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                Unexpected.Enqueue(new Problem(Now, "exports", $"exports {e.GetType().Name}: {e.Message}"));
            }
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// One user uploading small PDFs one after another, in turn streamed through the service (multipart) and direct
    /// (presign, PUT straight to storage, complete); a PUT refused by a storage that is down is tried again later.
    /// </summary>
    private async Task UploaderAsync()
    {
        using var client = Client("Bearer", userToken);
        using var storage = new HttpClient { Timeout = TimeSpan.FromSeconds(35) };
        const string boundary = "cluster-boundary";
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var file = new byte[16 * 1024];
            Random.Shared.NextBytes(file);
            "%PDF-1.7\n"u8.CopyTo(file);
            if (n % 2 == 1)
            {
                await DirectUploadAsync(client, storage, file);
                continue;
            }
            var head = System.Text.Encoding.ASCII.GetBytes(
                $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\n");
            var tail = System.Text.Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orgs/{orgId}/uploads") { Content = new ByteArrayContent([.. head, .. file, .. tail]) };
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
            var (outcome, text) = await SendWithBodyAsync(client, request, "uploads");
            if (outcome == Outcome.Done)
            {
                Uploaded.Add(JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid());
                Count("uploads", 1);
            }
            else await Task.Delay(200);
        }
    }

    private async Task DirectUploadAsync(HttpClient client, HttpClient storage, byte[] file)
    {
        using var presign = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orgs/{orgId}/uploads/presign")
        {
            Content = JsonContent.Create(new { fileName = "direct.pdf", contentType = "application/pdf", sizeBytes = file.Length }),
        };
        var (outcome, text) = await SendWithBodyAsync(client, presign, "uploads");
        if (outcome != Outcome.Done)
        {
            await Task.Delay(200);
            return;
        }
        var presigned = JsonDocument.Parse(text).RootElement;
        var id = presigned.GetProperty("upload").GetProperty("id").GetGuid();
        for (var attempt = 0; ; attempt++)
        {
            using var put = new HttpRequestMessage(HttpMethod.Put, presigned.GetProperty("url").GetString()) { Content = new ByteArrayContent(file) };
            foreach (var header in presigned.GetProperty("headers").EnumerateObject())
            {
                if (header.Name != "content-length") put.Content.Headers.TryAddWithoutValidation(header.Name, header.Value.GetString());
            }
            try
            {
                if ((await storage.SendAsync(put)).IsSuccessStatusCode) break;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
            Interlocked.Increment(ref _storageRefusedPuts);
            if (attempt == 100 || _stop.IsCancellationRequested) return; // never completed: the cleanup job's to remove
            await Task.Delay(200);
        }
        for (var attempt = 0; attempt < 200; attempt++)
        {
            using var complete = new HttpRequestMessage(HttpMethod.Post, presigned.GetProperty("completeUrl").GetString());
            var (completed, _) = await SendWithBodyAsync(client, complete, "uploads");
            if (completed == Outcome.Done)
            {
                Uploaded.Add(id);
                Count("uploads", 1);
                return;
            }
            if (completed == Outcome.Refused) return;
            await Task.Delay(200);
        }
    }

    /// <summary>Direct PUTs a storage that was down refused (tried again; not an answer of the service).</summary>
    public long StorageRefusedPuts => Interlocked.Read(ref _storageRefusedPuts);
    private long _storageRefusedPuts;

    public HttpClient Client(string scheme, string credential)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(35) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(scheme, credential);
        return client;
    }

    private async Task AgentAsync(int agent, string key)
    {
        using var client = Client("ApiKey", key);
        for (var batch = 0; !_stop.IsCancellationRequested; batch++)
        {
            var ids = Enumerable.Range(0, 50).Select(i => $"a{agent}-{batch}-{i}").ToList();
            var now = DateTimeOffset.UtcNow;
            // Serialized once: a batch sent again is the same bytes, as its Idempotency-Key promises.
            var body = JsonSerializer.SerializeToUtf8Bytes(new
            {
                events = ids.Select((id, i) => new { type = "file_modified", occurredAt = now.AddSeconds(-i).ToString("O"), path = $"/work/agent{agent}/f{i % 7}.txt", clientEventId = id }).ToList(),
            });
            if (await IngestAsync(client, orgId, body, $"a{agent}-b{batch}", "ingest"))
            {
                foreach (var id in ids) Acknowledged.Add(id);
                Count("ingest", ids.Count);
            }
        }
    }

    /// <summary>
    /// Sends an event batch, the same bytes under the same Idempotency-Key, until it is acknowledged (a stop of the
    /// workload waits for the batch in hand). False when an answer that retrying cannot change (a 4xx, counted) gave it up.
    /// </summary>
    public async Task<bool> IngestAsync(HttpClient client, Guid org, byte[] body, string idempotencyKey, string kind)
    {
        for (var attempt = 0; !_stop.IsCancellationRequested || attempt < 200; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orgs/{org}/events") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("Idempotency-Key", idempotencyKey);
            var outcome = await SendAsync(client, request, kind);
            if (outcome != Outcome.Retry) return outcome == Outcome.Done;
            await Task.Delay(200);
        }
        return false;
    }

    private async Task ReaderAsync()
    {
        using var client = Client("Bearer", userToken);
        while (!_stop.IsCancellationRequested)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/orgs/{orgId}/events?limit=50");
            if (await SendAsync(client, request, "reads") == Outcome.Done) Count("reads", 1);
            else await Task.Delay(200);
        }
    }

    public enum Outcome { Done, Retry, Refused }

    /// <summary>Done for a 2xx; records anything that is neither a 2xx nor a 503 with Retry-After.</summary>
    private async Task<Outcome> SendAsync(HttpClient client, HttpRequestMessage request, string kind) => (await SendWithBodyAsync(client, request, kind)).Outcome;

    public async Task<(Outcome Outcome, string Body)> SendWithBodyAsync(HttpClient client, HttpRequestMessage request, string kind)
    {
        Interlocked.Increment(ref _total);
        try
        {
            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode) return (Outcome.Done, text);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null) return (Outcome.Retry, text);
            if (response.StatusCode == HttpStatusCode.BadGateway && kind is "uploads" or "manual runs" && Killing)
            {
                Interlocked.Increment(ref _cutByKill);
                return (Outcome.Retry, text);
            }
            Unexpected.Enqueue(new Problem(Now, kind, $"{kind} {(int)response.StatusCode}{(response.StatusCode == HttpStatusCode.ServiceUnavailable ? " without Retry-After" : "")}: {text[..Math.Min(text.Length, 160)]}"));
            return ((int)response.StatusCode is >= 400 and < 500 and not 429 ? Outcome.Refused : Outcome.Retry, text);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Unexpected.Enqueue(new Problem(Now, kind, $"{kind} {e.GetType().Name}: {e.Message}"));
            return (Outcome.Retry, "");
        }
    }

    public void Count(string kind, int units) => _done.AddOrUpdate((kind, (long)Now), units, (_, n) => n + units);
}
