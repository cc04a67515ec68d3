using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

/// <summary>
/// A customer's endpoint on loopback: checks each message's Standard Webhooks signature on its own (not with the
/// service's library), answers 200 and records every webhook-id with the moments it arrived, so the summary can tell
/// a message delivered twice or never.
/// </summary>
sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Func<double> _now;

    public WebhookReceiver(Func<double> now)
    {
        _now = now;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, Port));
        _app = builder.Build();
        _app.MapPost("/hook", ReceiveAsync);
    }

    public int Port { get; }

    /// <summary>Set once the integration exists: the signing secret it showed once.</summary>
    public string? SigningSecret { get; set; }

    /// <summary>Each webhook-id answered 200, with when (seconds of the load's clock) and the workflow's kind of trigger.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<double>> Delivered { get; } = new();
    public ConcurrentDictionary<string, string> KindOf { get; } = new();
    public int BadSignatures => _badSignatures;
    private int _badSignatures;

    public Task StartAsync() => _app.StartAsync();

    private async Task<IResult> ReceiveAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync();
        var id = request.Headers["webhook-id"].ToString();
        var timestamp = request.Headers["webhook-timestamp"].ToString();
        if (SigningSecret is null || !SignatureMatches(SigningSecret, id, timestamp, body, request.Headers["webhook-signature"].ToString()))
        {
            Interlocked.Increment(ref _badSignatures);
            return Results.Unauthorized();
        }
        Delivered.GetOrAdd(id, _ => new ConcurrentQueue<double>()).Enqueue(_now());
        using var json = JsonDocument.Parse(body);
        if (json.RootElement.GetProperty("data").TryGetProperty("kind", out var kind)) KindOf[id] = kind.GetString() ?? "";
        return Results.Ok();
    }

    // Standard Webhooks: base64 HMAC-SHA256 of "{id}.{timestamp}.{body}" under the secret's bytes, as "v1,{signature}",
    // several separated by spaces.
    private static bool SignatureMatches(string secret, string id, string timestamp, string body, string header)
    {
        var key = Convert.FromBase64String(secret.StartsWith("whsec_", StringComparison.Ordinal) ? secret[6..] : secret);
        var expected = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}")));
        return header.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Any(s => s.StartsWith("v1,", StringComparison.Ordinal) && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s[3..]), Encoding.ASCII.GetBytes(expected)));
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
