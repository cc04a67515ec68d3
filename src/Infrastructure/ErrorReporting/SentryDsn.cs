namespace Service.Infrastructure.ErrorReporting;

/// <summary>A Sentry DSN, {scheme}://{public_key}@{host}/{path}{project_id}, and the envelope endpoint it names.</summary>
public sealed record SentryDsn(string Original, string PublicKey, string ProjectId, Uri EnvelopeUri)
{
    public static SentryDsn? TryParse(string? dsn)
    {
        if (string.IsNullOrWhiteSpace(dsn) || !ErrorReportingOptionsValidator.IsValidDsn(dsn)) return null;
        var uri = new Uri(dsn);
        var segments = uri.AbsolutePath.TrimEnd('/').Split('/');
        var project = segments[^1];
        var path = string.Join('/', segments[..^1]).Trim('/');
        var prefix = path.Length == 0 ? "/" : $"/{path}/";
        var envelope = new UriBuilder(uri.Scheme, uri.Host, uri.Port, $"{prefix}api/{project}/envelope/").Uri;
        return new SentryDsn(dsn, uri.UserInfo.Split(':')[0], project, envelope);
    }
}
