using System.Text;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Http;

/// <summary>With every log level on, nothing secret reaches a log line: keys, passwords, tokens, cookies.</summary>
public sealed class LogSecrecyTests : IClassFixture<LogSecrecyTests.Factory>
{
    private const string DatabasePassword = "db-password-in-url-91c2";
    private const string BearerToken = "bearer-token-value-55aa";
    private const string QueryToken = "query-token-value-77bb";
    private const string CookieValue = "cookie-session-value-33dd";
    private const string BodyPassword = "body-password-value-11ee";

    public sealed class Factory : ServiceFactory
    {
        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            // Trust authentication ignores the password, so the real server still accepts it.
            Settings["Database:Url"] = TestServers.DatabaseUrl(DatabaseName).Replace("postgres@", $"postgres:{DatabasePassword}@");
            Settings["Logging:LogLevel:Default"] = "Trace";
            Settings["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace";
            Settings["Logging:LogLevel:Npgsql"] = "Trace";
        }
    }

    private readonly Factory _factory;

    public LogSecrecyTests(Factory factory) => _factory = factory;

    [Fact]
    public async Task No_secret_appears_in_any_log_line()
    {
        var client = _factory.CreateClient();
        foreach (var path in new[] { "/health/ready", $"/health/live?token={QueryToken}", "/test/throw", "/nowhere" })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {BearerToken}");
            request.Headers.TryAddWithoutValidation("Cookie", $"session={CookieValue}");
            await client.SendAsync(request);
        }
        await client.PostAsync("/test/echo", new StringContent($"{{\"name\":\"x\",\"password\":\"{BodyPassword}\"", Encoding.UTF8, "application/json"));

        // The identity flows: passwords, access and refresh tokens, agent keys, including failures.
        var user = await _factory.SignUpAsync();
        await client.PostAsJsonAsync("/api/v1/auth/login", new { email = user.Email, password = "wrong " + BodyPassword });
        var refreshed = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refreshToken = user.RefreshToken });
        var rotatedRefresh = (await refreshed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("refreshToken").GetString()!;
        await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refreshToken = user.RefreshToken }); // reuse: revokes the family
        var orgId = await user.CreateOrgAsync();
        var (_, apiKey) = await user.CreateApiKeyAsync(orgId);
        await _factory.ClientWithApiKey(apiKey).GetAsync($"/api/v1/orgs/{orgId}/members");
        await _factory.ClientWithApiKey(apiKey + "x").GetAsync($"/api/v1/orgs/{orgId}/members");

        // A stream ticket travels in the query string: used once, refused when reused.
        var ticket = (await (await user.Client.PostAsync("/api/v1/stream/tickets", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ticket").GetString()!;
        await using (var stream = await SseClient.OpenAsync(client, $"/api/v1/stream?ticket={ticket}")) { }
        await client.GetAsync($"/api/v1/stream?ticket={ticket}");

        var lines = _factory.Logs.Lines;
        Assert.True(lines.Count > 20, $"expected a busy log at Trace level, got {lines.Count} lines");
        string[] secrets =
        [
            ServiceFactory.TestSecretKey, DatabasePassword, BearerToken, QueryToken, CookieValue, BodyPassword, "S3RVER",
            user.Password, user.AccessToken, user.RefreshToken, rotatedRefresh, apiKey, apiKey[("wfk_".Length + 13)..], ticket,
        ];
        foreach (var secret in secrets)
        {
            var leak = lines.FirstOrDefault(l => l.AllText.Contains(secret, StringComparison.Ordinal));
            Assert.True(leak is null, $"'{secret}' was logged by {leak?.Category}: {leak?.AllText}");
        }
    }
}
