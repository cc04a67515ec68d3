using System.Threading.Channels;

namespace Service.Tests.Fixtures;

/// <summary>One event as a stream sent it.</summary>
public sealed record SseEvent(string? Id, string Type, string Data)
{
    public JsonElement Json => JsonDocument.Parse(Data).RootElement;
    public long Number => long.Parse(Id!);
}

/// <summary>
/// Reads a text/event-stream response the way EventSource does: lines into events, comments counted apart. Events
/// queue until a test takes them; <see cref="Ended"/> completes when the server ends the response.
/// </summary>
public sealed class SseClient : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly Channel<SseEvent> _events = Channel.CreateUnbounded<SseEvent>();
    private readonly CancellationTokenSource _stop = new();
    private int _comments;

    private SseClient(HttpResponseMessage response)
    {
        _response = response;
        Ended = ReadAsync();
    }

    public HttpResponseMessage Response => _response;
    public Task Ended { get; }
    public int Comments => Volatile.Read(ref _comments);
    public string? LastEventId { get; private set; }
    public List<SseEvent> Received { get; } = [];

    /// <summary>Opens the stream; a non-200 answer is returned as is, with no client.</summary>
    public static async Task<(SseClient? Client, HttpResponseMessage Response)> TryOpenAsync(HttpClient client, string path = "/api/v1/stream", string? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (lastEventId is not null) request.Headers.TryAddWithoutValidation("Last-Event-ID", lastEventId);
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return response.StatusCode == HttpStatusCode.OK ? (new SseClient(response), response) : (null, response);
    }

    public static async Task<SseClient> OpenAsync(HttpClient client, string path = "/api/v1/stream", string? lastEventId = null)
    {
        var (stream, response) = await TryOpenAsync(client, path, lastEventId);
        if (stream is null) throw new InvalidOperationException($"stream answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var open = await stream.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("stream.open", open.Type);
        return stream;
    }

    /// <summary>The next event, whatever its type.</summary>
    public async Task<SseEvent> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var e = await _events.Reader.ReadAsync(cts.Token);
            Received.Add(e);
            return e;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no event within {timeout}; received so far: {string.Join(", ", Received.Select(r => $"{r.Type}#{r.Id}"))}");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"the stream ended; received: {string.Join(", ", Received.Select(r => $"{r.Type}#{r.Id}"))}");
        }
    }

    /// <summary>Events until <paramref name="count"/> of <paramref name="type"/> arrived (others are kept in <see cref="Received"/> too).</summary>
    public async Task<List<SseEvent>> TakeAsync(string type, int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var taken = new List<SseEvent>();
        while (taken.Count < count)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"{taken.Count} of {count} {type} events within {timeout}");
            var e = await NextAsync(left);
            if (e.Type == type) taken.Add(e);
        }
        return taken;
    }

    /// <summary>Asserts that nothing (but heartbeats) arrives for <paramref name="wait"/>.</summary>
    public async Task AssertQuietAsync(TimeSpan wait)
    {
        await Task.Delay(wait);
        Assert.True(!_events.Reader.TryRead(out var e), $"unexpected event {e?.Type}#{e?.Id}: {e?.Data}");
    }

    private async Task ReadAsync()
    {
        try
        {
            await using var body = await _response.Content.ReadAsStreamAsync(_stop.Token);
            using var reader = new StreamReader(body);
            string? id = null, type = null;
            var data = new List<string>();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Count > 0 || type is not null)
                    {
                        if (id is not null) LastEventId = id;
                        _events.Writer.TryWrite(new SseEvent(id, type ?? "message", string.Join('\n', data)));
                    }
                    (id, type) = (null, null);
                    data.Clear();
                }
                else if (line.StartsWith(':')) Interlocked.Increment(ref _comments);
                else if (line.StartsWith("id: ")) id = line[4..];
                else if (line.StartsWith("event: ")) type = line[7..];
                else if (line.StartsWith("data: ")) data.Add(line[6..]);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or HttpRequestException)
        {
        }
        catch (ArgumentOutOfRangeException) when (_stop.IsCancellationRequested)
        {
            // The test host's response stream can throw this when a read races the disposal this client started.
        }
        finally
        {
            _events.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _response.Dispose();
        try { await Ended.WaitAsync(TimeSpan.FromSeconds(5)); } catch (TimeoutException) { }
        _stop.Dispose();
    }
}
