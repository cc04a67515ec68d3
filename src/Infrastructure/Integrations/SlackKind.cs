using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Service.Infrastructure.Integrations;

/// <summary>
/// A Slack incoming webhook. Its URL is the credential (anyone holding it can post to the channel), so it is
/// encrypted and shown masked. Messages become Slack's JSON: the data's "text" when it has one, else the type and data.
/// </summary>
public sealed class SlackKind : IntegrationKind
{
    public override string Name => "slack";

    public override IntegrationSettings? Accept(IntegrationInput input, OutboundUrlRules rules, IntegrationSecrets? current, Dictionary<string, string[]> errors)
    {
        if (input.Headers is { Count: > 0 }) errors["headers"] = ["Slack integrations take no headers."];
        // On update without a new URL, the stored one stays.
        var urlText = input.Url ?? current?.Url;
        var url = rules.Check(urlText, "url", errors);
        if (url is not null && Encoding.UTF8.GetByteCount(url.AbsoluteUri) > WebhookKind.MaxSecretBytes) errors["url"] = [$"At most {WebhookKind.MaxSecretBytes} bytes."];
        if (url is null || errors.Count > 0) return null;
        var secrets = new IntegrationSecrets(null, null, url.AbsoluteUri, null);
        return new IntegrationSettings(null, [], secrets, Mask($"{url.Scheme}://{url.Authority}/", url.AbsoluteUri));
    }

    public override HttpRequestMessage BuildRequest(IntegrationTarget target, OutboundMessage message, DateTimeOffset now)
    {
        var body = new JsonObject { ["text"] = Text(message) }.ToJsonString();
        var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Content.Headers.ContentType = new("application/json");
        return request;
    }

    private static string Text(OutboundMessage message)
    {
        var data = JsonNode.Parse(message.DataJson);
        if (data is JsonObject o && o["text"] is JsonValue text && text.TryGetValue<string>(out var value)) return value;
        return $"*{message.EventType}*\n```{data?.ToJsonString(new JsonSerializerOptions { WriteIndented = true })}```";
    }
}
