using System.Net.Http.Headers;

namespace Service.Tests.Fixtures;

public sealed record TestUser(Guid Id, string Email, string Password, string AccessToken, string RefreshToken, HttpClient Client);

/// <summary>Users, organizations and keys made through the public API, as a frontend would.</summary>
public static class Identity
{
    public const string Password = "correct horse battery";

    public static string NewEmail(string hint = "user") => $"{hint}-{Guid.NewGuid():N}@example.com";

    public static async Task<TestUser> SignUpAsync(this ServiceFactory factory, string? email = null)
    {
        email ??= NewEmail();
        var anonymous = factory.CreateClient();
        var registered = await anonymous.PostAsJsonAsync("/api/v1/auth/register", new { email, password = Password, displayName = "Test User" });
        await EnsureAsync(registered, HttpStatusCode.Created);
        var id = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var tokens = await LoginAsync(factory, email);
        return new TestUser(id, email, Password, tokens.Access, tokens.Refresh, factory.ClientWithToken(tokens.Access));
    }

    public static async Task<(string Access, string Refresh)> LoginAsync(this ServiceFactory factory, string email, string password = Password)
    {
        var response = await factory.CreateClient().PostAsJsonAsync("/api/v1/auth/login", new { email, password });
        await EnsureAsync(response, HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("accessToken").GetString()!, body.GetProperty("refreshToken").GetString()!);
    }

    public static HttpClient ClientWithToken(this ServiceFactory factory, string accessToken)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    public static HttpClient ClientWithApiKey(this ServiceFactory factory, string key)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", key);
        return client;
    }

    public static async Task<Guid> CreateOrgAsync(this TestUser owner, string name = "Acme")
    {
        var response = await owner.Client.PostAsJsonAsync("/api/v1/orgs", new { name });
        await EnsureAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    public static async Task AddMemberAsync(this TestUser admin, Guid orgId, TestUser member, string role)
    {
        var response = await admin.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email = member.Email, role });
        await EnsureAsync(response, HttpStatusCode.Created);
    }

    public static async Task<(Guid Id, string Key)> CreateApiKeyAsync(this TestUser admin, Guid orgId, string name = "laptop")
    {
        var response = await admin.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name });
        await EnsureAsync(response, HttpStatusCode.Created);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("id").GetGuid(), body.GetProperty("key").GetString()!);
    }

    public static async Task EnsureAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            throw new Xunit.Sdk.XunitException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: expected {expected}, got {response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>Asserts the status and that the body is problem details; returns the problem.</summary>
    public static async Task<JsonElement> ProblemAsync(this HttpResponseMessage response, HttpStatusCode expected)
    {
        await EnsureAsync(response, expected);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static async Task<long> CountAuditAsync(this ServiceFactory factory, string action, string? targetId = null)
    {
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM audit_log WHERE action = $1 AND ($2::text IS NULL OR target_id = $2) AND request_id IS NOT NULL");
        command.Parameters.AddWithValue(action);
        command.Parameters.AddWithValue((object?)targetId ?? DBNull.Value);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
