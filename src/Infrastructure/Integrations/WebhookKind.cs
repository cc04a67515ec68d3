using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using StandardWebhooks;

namespace Service.Infrastructure.Integrations;

/// <summary>
/// A customer's HTTP endpoint. Messages are Standard Webhooks: a JSON envelope {type, timestamp, data} with
/// webhook-id, webhook-timestamp and webhook-signature headers, signed with a secret the service generates.
/// </summary>
public sealed class WebhookKind : IntegrationKind
{
    public const int MaxHeaders = 20;
    public const int MaxSecretBytes = 4096;

    // Set by the service on every request: a member's header must not replace them.
    private static readonly HashSet<string> ReservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "host", "content-length", "content-type", "transfer-encoding", "connection", "upgrade", "te", "trailer", "keep-alive",
        "proxy-authorization", "expect", "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent",
    };

    public override string Name => "webhook";

    public static string NewSigningSecret() => "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public static string Hint(string signingSecret) => Mask("whsec_", signingSecret);

    public override IntegrationSettings? Accept(IntegrationInput input, OutboundUrlRules rules, IntegrationSecrets? current, Dictionary<string, string[]> errors)
    {
        var url = rules.Check(input.Url, "url", errors);
        var headers = input.Headers is null ? current?.Headers ?? new Dictionary<string, string>() : CheckHeaders(input.Headers, errors);
        if (url is null || errors.Count > 0) return null;
        var secrets = new IntegrationSecrets(current?.SigningSecret ?? NewSigningSecret(), current?.PreviousSigningSecret, null, headers);
        return new IntegrationSettings(url.AbsoluteUri, headers.Keys.Order(StringComparer.OrdinalIgnoreCase).ToList(), secrets, Hint(secrets.SigningSecret!));
    }

    public static IReadOnlyDictionary<string, string> CheckHeaders(IReadOnlyDictionary<string, string> headers, Dictionary<string, string[]> errors)
    {
        if (headers.Count > MaxHeaders)
        {
            errors["headers"] = [$"At most {MaxHeaders} headers."];
            return headers;
        }
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            var field = $"headers.{name}";
            if (name.Length is 0 or > 100 || !name.All(IsTokenChar)) errors[field] = ["A header name is 1 to 100 token characters (letters, digits, !#$%&'*+-.^_`|~)."];
            else if (ReservedHeaders.Contains(name)) errors[field] = ["Set by the service; it cannot be overridden."];
            else if (!seen.Add(name)) errors[field] = ["Given twice (names are case-insensitive)."];
            else if (value is null) errors[field] = ["A value is required."];
            else if (Encoding.UTF8.GetByteCount(value) > MaxSecretBytes) errors[field] = [$"At most {MaxSecretBytes} bytes."];
            else if (value.Any(c => c is '\r' or '\n' or '\0' || (char.IsControl(c) && c != '\t'))) errors[field] = ["Must not contain line breaks or control characters."];
        }
        return headers;
    }

    // RFC 9110 token characters.
    private static bool IsTokenChar(char c) => char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);

    public override HttpRequestMessage BuildRequest(IntegrationTarget target, OutboundMessage message, DateTimeOffset now)
    {
        var body = Envelope(message);
        var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        foreach (var (name, value) in target.Headers) request.Headers.TryAddWithoutValidation(name, value);
        request.Headers.Add("webhook-id", message.WebhookId);
        request.Headers.Add("webhook-timestamp", now.ToUnixTimeSeconds().ToString());
        // Several secrets during a rotation's grace period: Standard Webhooks lists their signatures space-separated.
        request.Headers.TryAddWithoutValidation("webhook-signature",
            string.Join(' ', target.SigningSecrets.Select(secret => new StandardWebhook(secret).Sign(message.WebhookId, now, body))));
        return request;
    }

    /// <summary>The body, identical on every attempt: its timestamp is when the message was created, not sent.</summary>
    public static string Envelope(OutboundMessage message) =>
        $$"""{"type":{{JsonSerializer.Serialize(message.EventType)}},"timestamp":{{JsonSerializer.Serialize(message.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ"))}},"data":{{message.DataJson}}}""";
}
