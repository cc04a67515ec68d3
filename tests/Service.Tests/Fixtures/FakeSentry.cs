using System.Collections.Concurrent;
using System.Net;

namespace Service.Tests.Fixtures;

/// <summary>
/// Plays Sentry's ingest endpoint on 127.0.0.1: records every request (path, headers, body) and answers what the
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

    /// <summary>The answer to the next requests; null: hold the connection and never answer.</summary>
    public Func<int, (HttpStatusCode Status, Dictionary<string, string> Headers)?> Answer { get; set; } = _ => (HttpStatusCode.OK, []);

    /// <summary>How long each answer takes (a slow ingest endpoint).</summary>
    public TimeSpan AnswerDelay { get; set; }

    public sealed record Received(string Path, string? Auth, string? ContentType, string Body)
    {
        public string[] Lines => Body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public JsonElement Header => JsonDocument.Parse(Lines[0]).RootElement;
        public JsonElement ItemHeader => JsonDocument.Parse(Lines[1]).RootElement;
        public JsonElement Event => JsonDocument.Parse(Lines[2]).RootElement;
    }

    public async Task<Received> NextAsync(int count = 1, int timeoutSeconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (Requests.Count < count)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Sentry received {Requests.Count} of {count} envelopes");
            await Task.Delay(20);
        }
        return Requests.ElementAt(count - 1);
    }

    private async Task AcceptLoopAsync()
    {
        var index = 0;
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try { context = await _listener.GetContextAsync(); }
            catch (Exception) { return; }
            using (var reader = new StreamReader(context.Request.InputStream))
            {
                Requests.Enqueue(new Received(context.Request.Url!.AbsolutePath, context.Request.Headers["X-Sentry-Auth"], context.Request.ContentType, await reader.ReadToEndAsync()));
            }
            if (Answer(index++) is not { } answer) continue; // never answered
            if (AnswerDelay > TimeSpan.Zero) await Task.Delay(AnswerDelay);
            context.Response.StatusCode = (int)answer.Status;
            foreach (var (name, value) in answer.Headers) context.Response.Headers[name] = value;
            context.Response.Close();
        }
    }

    public ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Close();
        return ValueTask.CompletedTask;
    }
}
