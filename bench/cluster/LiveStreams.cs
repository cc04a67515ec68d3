using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

/// <summary>
/// Live streams held open through the load balancer as a browser's EventSource would: on any end (an instance stopped
/// or killed, a stream.closed) it reconnects with Last-Event-ID and waits as told (retry hint, Retry-After); a
/// stream.reset makes it reload the notifications over the API, as the contract asks. Each stream keeps the ids of the
/// notifications it received, for the summary's "published but never received" count.
/// </summary>
sealed class LiveStreams(string baseUrl, Load load)
{
    public sealed class Stream(Guid userId, string token)
    {
        public Guid UserId { get; } = userId;
        public string Token { get; } = token;
        public ConcurrentDictionary<long, byte> Notifications { get; } = new();
        public long? LastEventId { get; set; }
        public volatile bool Open;
        public int Connects;
        public int Resets;
    }

    private readonly List<Stream> _streams = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _running = [];
    private static readonly HttpClient Http = new(new SocketsHttpHandler { MaxConnectionsPerServer = 1000, PooledConnectionLifetime = TimeSpan.FromMinutes(30) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public IReadOnlyList<Stream> All => _streams;

    public void Start(Guid userId, string token, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var stream = new Stream(userId, token);
            _streams.Add(stream);
            _running.Add(Task.Run(() => HoldAsync(stream)));
        }
    }

    /// <summary>Waits until every stream is open (each got its stream.open), or the timeout; returns how many are.</summary>
    public async Task<int> WaitOpenAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_streams.Any(s => !s.Open) && DateTime.UtcNow < deadline) await Task.Delay(100);
        return _streams.Count(s => s.Open);
    }

    public async Task StopAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_running);
    }

    private async Task HoldAsync(Stream stream)
    {
        var retry = TimeSpan.FromMilliseconds(500);
        while (!_stop.IsCancellationRequested)
        {
            var wait = retry;
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"{baseUrl}/api/v1/stream");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stream.Token);
                request.Headers.Accept.ParseAdd("text/event-stream");
                if (stream.LastEventId is { } last) request.Headers.Add("Last-Event-ID", last.ToString());
                load.Count();
                using var response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref stream.Connects);
                    await ReadAsync(stream, response, _stop.Token);
                }
                else
                {
                    var text = await response.Content.ReadAsStringAsync(_stop.Token);
                    // Expected: 503 with Retry-After (a dependency or the instance going away), 429 with Retry-After
                    // (the user's open streams still counted for a killed instance until they lapse).
                    if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests && response.Headers.RetryAfter?.Delta is { } after)
                    {
                        wait = after;
                    }
                    else if (!(response.StatusCode == HttpStatusCode.BadGateway && load.Killing))
                    {
                        load.Unexpected.Enqueue(new Load.Problem(load.Now, "streams", $"streams {(int)response.StatusCode}: {text[..Math.Min(text.Length, 160)]}"));
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                // The connection ended under the stream (an instance stopped or killed): reconnect, as EventSource does.
            }
            stream.Open = false;
            try { await Task.Delay(wait, _stop.Token); } catch (OperationCanceledException) { return; }
        }
    }

    private async Task ReadAsync(Stream stream, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        string? type = null, id = null;
        var data = new System.Text.StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
            {
                if (type is not null || data.Length > 0) await DispatchAsync(stream, type ?? "message", id, data.ToString(), cancellationToken);
                type = null;
                id = null;
                data.Clear();
                continue;
            }
            if (line.StartsWith(':')) continue;
            var colon = line.IndexOf(':');
            var (field, value) = colon < 0 ? (line, "") : (line[..colon], line[(colon + 1)..].TrimStart(' '));
            switch (field)
            {
                case "event": type = value; break;
                case "id": id = value; break;
                case "data": data.Append(data.Length > 0 ? "\n" : "").Append(value); break;
            }
        }
    }

    private async Task DispatchAsync(Stream stream, string type, string? id, string data, CancellationToken cancellationToken)
    {
        if (id is not null && long.TryParse(id, out var seq)) stream.LastEventId = seq;
        switch (type)
        {
            case "stream.open":
                stream.Open = true;
                break;
            case "notification.created":
                stream.Notifications.TryAdd(JsonDocument.Parse(data).RootElement.GetProperty("id").GetInt64(), 0);
                break;
            case "stream.reset":
                // More was missed than is replayed: reload the notifications over the API, as a client must.
                Interlocked.Increment(ref stream.Resets);
                await ReloadAsync(stream, cancellationToken);
                break;
        }
    }

    private async Task ReloadAsync(Stream stream, CancellationToken cancellationToken)
    {
        string? cursor = null;
        do
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{baseUrl}/api/v1/notifications?limit=100{(cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}")}");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", stream.Token);
            using var response = await Http.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode) return; // the stream goes on; what is still missing shows in the summary
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
            foreach (var item in page.RootElement.GetProperty("items").EnumerateArray()) stream.Notifications.TryAdd(item.GetProperty("id").GetInt64(), 0);
            cursor = page.RootElement.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
        } while (cursor is not null);
    }
}
