using Service.Tests.Fixtures;

namespace Service.Tests.Features.Auth;

/// <summary>Refresh rotation, reuse detection, logout and the current user.</summary>
public sealed class SessionTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    private Task<HttpResponseMessage> RefreshAsync(string refreshToken) =>
        _client.PostAsJsonAsync("/api/v1/auth/refresh", new { refreshToken });

    [Fact]
    public async Task Refresh_rotates_the_token()
    {
        var user = await factory.SignUpAsync();

        var response = await RefreshAsync(user.RefreshToken);
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var next = body.GetProperty("refreshToken").GetString()!;

        Assert.NotEqual(user.RefreshToken, next);
        Assert.Equal(HttpStatusCode.OK, (await factory.ClientWithToken(body.GetProperty("accessToken").GetString()!).GetAsync("/api/v1/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(next)).StatusCode);
    }

    [Fact]
    public async Task Reusing_a_consumed_refresh_token_revokes_the_whole_family_and_is_audited()
    {
        var user = await factory.SignUpAsync();
        var rotated = (await (await RefreshAsync(user.RefreshToken)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("refreshToken").GetString()!;

        var replay = await RefreshAsync(user.RefreshToken);

        await replay.ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(rotated)).StatusCode); // the legitimate holder is out too
        Assert.Equal(1, await factory.CountAuditAsync("auth.refresh_reuse_detected"));
        var other = await factory.LoginAsync(user.Email); // another sign-in is another family, unaffected
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(other.Refresh)).StatusCode);
    }

    [Fact]
    public async Task Two_concurrent_refreshes_with_one_token_succeed_exactly_once()
    {
        for (var round = 0; round < 5; round++)
        {
            var user = await factory.SignUpAsync();

            var results = await Task.WhenAll(RefreshAsync(user.RefreshToken), RefreshAsync(user.RefreshToken));

            Assert.Equal(1, results.Count(r => r.StatusCode == HttpStatusCode.OK));
            Assert.Equal(1, results.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
        }
    }

    [Theory]
    [InlineData("never-issued-token-value-0000000000000000000")]
    [InlineData("")]
    public async Task Unknown_or_empty_refresh_tokens_are_rejected(string token)
    {
        var response = await RefreshAsync(token);

        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest, response.StatusCode.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Logout_revokes_the_refresh_token_family()
    {
        var user = await factory.SignUpAsync();

        var logout = await user.Client.PostAsJsonAsync("/api/v1/auth/logout", new { refreshToken = user.RefreshToken });

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await RefreshAsync(user.RefreshToken)).StatusCode);
    }

    [Fact]
    public async Task Logout_cannot_revoke_someone_elses_session()
    {
        var victim = await factory.SignUpAsync();
        var attacker = await factory.SignUpAsync();

        var logout = await attacker.Client.PostAsJsonAsync("/api/v1/auth/logout", new { refreshToken = victim.RefreshToken });

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await RefreshAsync(victim.RefreshToken)).StatusCode);
    }

    [Fact]
    public async Task Me_lists_the_users_organizations_with_roles()
    {
        var owner = await factory.SignUpAsync();
        var viewer = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Zeta Corp");
        await owner.AddMemberAsync(orgId, viewer, "viewer");

        var me = await viewer.Client.GetFromJsonAsync<JsonElement>("/api/v1/auth/me");

        Assert.Equal(viewer.Email, me.GetProperty("email").GetString());
        var org = Assert.Single(me.GetProperty("organizations").EnumerateArray());
        Assert.Equal(orgId, org.GetProperty("id").GetGuid());
        Assert.Equal("viewer", org.GetProperty("role").GetString());
    }
}
