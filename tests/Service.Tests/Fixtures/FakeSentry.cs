using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;

namespace Service.Tests.Fixtures;

/// <summary>
/// Plays Sentry's ingest endpoint on 127.0.0.1: records every request (path, headers, body un-gzipped) and answers what the
/// test says: 200, a 429 with headers, or nothing at all (a dead server that accepts and never answers).
/// </summary>
public sealed class FakeSentry : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stop = new();

    public FakeSentry()
    {
        Port = ServiceProcess.FreePort();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _ = Task.Run(AcceptLoopAsync);
    }

    public int Port { get; }
    public string Dsn(string path = "") => $"http://public-key-1@127.0.0.1:{Port}/{path}42";
    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>The answer to a request, by what it carries; null: hold the connection and never answer.</summary>
    public Func<Received, (HttpStatusCode Status, Dictionary<string, string> Headers)?> Answer { get; set; } = _ => (HttpStatusCode.OK, []);

    /// <summary>How long each answer takes (a slow ingest endpoint).</summary>
    public TimeSpan AnswerDelay { get; set; }

    /// <summary>One request, its body un-gzipped. As an envelope: a header line, then an item header and a payload per item.</summary>
    public sealed record Received(string Path, string? Auth, string? ContentType, string? ContentEncoding, string Body)
    {
        public string[] Lines => Body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public JsonElement Header => JsonDocument.Parse(Lines[0]).RootElement;

        public IEnumerable<(JsonElement Header, string Payload)> Items =>
            Lines.Skip(1).Chunk(2).Where(pair => pair.Length == 2).Select(pair => (JsonDocument.Parse(pair[0]).RootElement, pair[1]));

        /// <summary>Whether this envelope carries an error event (the SDK also sends client reports of its own).</summary>
        public bool IsEvent => Items.Any(i => i.Header.GetProperty("type").GetString() == "event");

        /// <summary>
        /// An unobserved task exception of the whole process: the SDK reports those too, and in tests that process is
        /// the test runner, whose other classes leave some behind. Never an event of the instance under test.
        /// </summary>
        public bool IsProcessWide => Body.Contains("\"UnobservedTaskException\"", StringComparison.Ordinal);

        public JsonElement Event => JsonDocument.Parse(Items.First(i => i.Header.GetProperty("type").GetString() == "event").Payload).RootElement;
    }

    /// <summary>What arrived, for a failure message: each envelope's item types, process-wide ones marked.</summary>
    public string Describe() => string.Join("; ", Requests.Select(r =>
        string.Join("+", r.Items.Select(i => i.Header.TryGetProperty("type", out var type) ? type.GetString() : "?")) + (r.IsProcessWide ? " (process-wide)" : "")));

    /// <summary>The envelopes that carry an error event of the instance under test.</summary>
    public IReadOnlyList<Received> Events => Requests.Where(r => r.IsEvent && !r.IsProcessWide).ToList();

    public async Task<Received> NextAsync(int count = 1, int timeoutSeconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (Events.Count < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Sentry received {Events.Count} of {count} events");
            await Task.Delay(20);
        }
        return Events[count - 1];
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            try
            {
                var encoding = context.Request.Headers["Content-Encoding"];
                Stream body = encoding == "gzip" ? new GZipStream(context.Request.InputStream, CompressionMode.Decompress) : context.Request.InputStream;
                Received received;
                using (var reader = new StreamReader(body))
                {
                    received = new Received(context.Request.Url!.AbsolutePath, context.Request.Headers["X-Sentry-Auth"], context.Request.ContentType, encoding, await reader.ReadToEndAsync());
                }
                Requests.Enqueue(received);
                if (Answer(received) is not { } answer) continue; // never answered
                if (AnswerDelay > TimeSpan.Zero) await Task.Delay(AnswerDelay);
                context.Response.StatusCode = (int)answer.Status;
                foreach (var (name, value) in answer.Headers) context.Response.Headers[name] = value;
                context.Response.Close();
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return; // disposed while answering
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Close();
        return ValueTask.CompletedTask;
    }
}
