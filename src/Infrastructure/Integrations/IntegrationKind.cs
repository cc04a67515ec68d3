using System.Net;
using System.Text.Json;
using Service.Infrastructure.Secrets;

namespace Service.Infrastructure.Integrations;

/// <summary>What a member submits for an integration, before the kind has judged it.</summary>
public sealed record IntegrationInput(string? Url, IReadOnlyDictionary<string, string>? Headers);

/// <summary>What a kind keeps of valid input: the destination shown to members (if not secret) and what is encrypted.</summary>
public sealed record IntegrationSettings(string? PublicUrl, IReadOnlyList<string> HeaderNames, IntegrationSecrets Secrets, string SecretHint)
{
    /// <summary>Where messages go, wherever the kind keeps it (in the clear or among the secrets).</summary>
    public Uri Destination => new(PublicUrl ?? Secrets.Url!);
}

/// <summary>Everything an attempt needs, decrypted just for it.</summary>
public sealed record IntegrationTarget(Guid Id, string Kind, string Url, IReadOnlyDictionary<string, string> Headers, IReadOnlyList<string> SigningSecrets);

/// <summary>A message as the outbox keeps it: its id is the webhook-id receivers deduplicate on.</summary>
public sealed record OutboundMessage(Guid Id, string EventType, DateTimeOffset CreatedAt, string DataJson)
{
    public string WebhookId => $"msg_{Id:N}";
}

/// <summary>
/// One kind of integration: how its input is validated and stored, and how a message becomes an HTTP request.
/// The closed set is <see cref="IntegrationKinds.All"/>; a new kind is one subclass added there.
/// </summary>
public abstract class IntegrationKind
{
    public abstract string Name { get; }

    /// <summary>Validates <paramref name="input"/>; adds field errors, or returns what to store. <paramref name="current"/> is set on update.</summary>
    public abstract IntegrationSettings? Accept(IntegrationInput input, OutboundUrlRules rules, IntegrationSecrets? current, Dictionary<string, string[]> errors);

    public abstract HttpRequestMessage BuildRequest(IntegrationTarget target, OutboundMessage message, DateTimeOffset now);

    /// <summary>The target of an attempt: the URL and headers from wherever this kind keeps them, signing secrets still valid now.</summary>
    public IntegrationTarget Target(Guid id, string? publicUrl, IntegrationSecrets secrets, DateTimeOffset? previousSecretExpiresAt, DateTimeOffset now)
    {
        var signing = new List<string>();
        if (secrets.SigningSecret is { } current) signing.Add(current);
        if (secrets.PreviousSigningSecret is { } previous && previousSecretExpiresAt > now) signing.Add(previous);
        return new IntegrationTarget(id, Name, publicUrl ?? secrets.Url ?? "", secrets.Headers ?? new Dictionary<string, string>(), signing);
    }

    protected static string Mask(string prefix, string secret) => $"{prefix}...{secret[^4..]}";
}

public static class IntegrationKinds
{
    public static readonly IntegrationKind Webhook = new WebhookKind();
    public static readonly IntegrationKind Slack = new SlackKind();

    public static readonly IReadOnlyList<IntegrationKind> All = [Webhook, Slack];

    public static IntegrationKind? Find(string? name) => All.FirstOrDefault(k => k.Name == name);

    public static string Names => string.Join(", ", All.Select(k => k.Name));
}

/// <summary>The encrypted part of an integration, stored as one JSON document sealed by SecretBox for that integration only.</summary>
public sealed record IntegrationSecrets(string? SigningSecret, string? PreviousSigningSecret, string? Url, IReadOnlyDictionary<string, string>? Headers)
{
    public static string Context(Guid integrationId) => $"integration:{integrationId:N}";

    public byte[] Seal(SecretBox box, Guid integrationId) =>
        box.Seal(JsonSerializer.SerializeToUtf8Bytes(this, JsonSerializerOptions.Web), Context(integrationId));

    public static IntegrationSecrets Open(SecretBox box, Guid integrationId, byte[] sealedValue) =>
        JsonSerializer.Deserialize<IntegrationSecrets>(box.Open(sealedValue, Context(integrationId)), JsonSerializerOptions.Web)
        ?? throw new SecretUnavailableException("the decrypted value is empty");
}

/// <summary>Rules every destination URL follows, whatever its kind: https only in Production, no credentials, no refused address.</summary>
public sealed class OutboundUrlRules(IHostEnvironment environment, OutboundAddressPolicy policy, IOutboundResolver resolver)
{
    public const int MaxUrlLength = 2048;
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(2);

    private readonly bool httpsOnly = environment.IsProduction();

    /// <summary>The absolute URL, or null with a field error explaining why not.</summary>
    public Uri? Check(string? value, string field, Dictionary<string, string[]> errors)
    {
        string? error = null;
        Uri? uri = null;
        if (string.IsNullOrWhiteSpace(value)) error = "Required.";
        else if (value.Length > MaxUrlLength) error = $"At most {MaxUrlLength} characters.";
        else if (!Uri.TryCreate(value.Trim(), UriKind.Absolute, out uri) || uri.IsFile || uri.IsUnc) error = "Must be an absolute http(s) URL.";
        else if (uri.Scheme != Uri.UriSchemeHttps && (httpsOnly || uri.Scheme != Uri.UriSchemeHttp)) error = httpsOnly ? "Must use https." : "Must use http or https.";
        else if (uri.UserInfo.Length > 0) error = "Must not carry a user name or password; use a header instead.";
        else if (uri.Fragment.Length > 0) error = "Must not have a #fragment.";
        else if (IPAddress.TryParse(uri.IdnHost, out var literal) && policy.Refusal(literal) is { } reason) error = $"Points at a {reason} address, which integrations may not reach.";
        if (error is null) return uri;
        errors[field] = [error];
        return null;
    }

    /// <summary>
    /// Refuses a name that resolves to a refused address now. A name that does not resolve is accepted (DNS may be
    /// slow or not yet set up): every connection is judged again anyway, and the integration's test says `dns`.
    /// </summary>
    public async Task CheckResolvedAsync(Uri url, string field, Dictionary<string, string[]> errors, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(url.IdnHost, out _)) return;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ResolveTimeout);
        IPAddress[] addresses;
        try
        {
            addresses = await resolver.ResolveAsync(url.IdnHost, timeout.Token);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return;
        }
        if (policy.Refusal(addresses) is { } refused) errors[field] = [$"{url.IdnHost} resolves to a {refused.Reason} address, which integrations may not reach."];
    }
}
