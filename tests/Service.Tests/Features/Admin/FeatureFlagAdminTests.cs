using System.Security.Claims;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Service.Infrastructure.Security;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Admin;

/// <summary>The admin feature-flag API, and how gated endpoints answer the values it sets.</summary>
public sealed class FeatureFlagAdminTests(OperatorServiceFactory factory) : IClassFixture<OperatorServiceFactory>, IAsyncLifetime
{
    private TestUser _ops = null!;

    public async Task InitializeAsync() => _ops = await factory.OperatorAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<JsonElement> SetAsync(string name, object body)
    {
        var response = await _ops.Client.PutAsJsonAsync($"/api/v1/admin/features/{name}", body);
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task<JsonElement> FlagAsync(string name)
    {
        var list = await _ops.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/features");
        return list.GetProperty("items").EnumerateArray().Single(f => f.GetProperty("name").GetString() == name);
    }

    [Fact]
    public async Task Lists_every_catalogue_flag_with_kind_source_and_description()
    {
        var list = await _ops.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/features");

        var names = list.GetProperty("items").EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList();
        Assert.Equal(["Registration", "EventIngest", "Uploads", "Workflows", "OutboundWebhooks", "LiveStream", "Suggestions"], names);
        var ingest = list.GetProperty("items")[1];
        Assert.Equal("killSwitch", ingest.GetProperty("kind").GetString());
        Assert.False(string.IsNullOrWhiteSpace(ingest.GetProperty("description").GetString()));
        Assert.True(ingest.GetProperty("safeDefault").GetBoolean());
        Assert.Equal("release", list.GetProperty("items")[6].GetProperty("kind").GetString());
        Assert.NotEqual(JsonValueKind.Null, list.GetProperty("loadedAt").ValueKind);
    }

    [Fact]
    public async Task Only_operators_may_read_or_change_flags()
    {
        var ordinary = await factory.SignUpAsync();
        var body = new { enabled = false, reason = "not allowed" };
        var before = (await FlagAsync("Uploads")).ToString();

        await (await ordinary.Client.GetAsync("/api/v1/admin/features")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await ordinary.Client.PutAsJsonAsync("/api/v1/admin/features/Uploads", body)).ProblemAsync(HttpStatusCode.Forbidden);
        await (await ordinary.Client.GetAsync("/api/v1/admin/audit")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await factory.CreateClient().PutAsJsonAsync("/api/v1/admin/features/Uploads", body)).ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(before, (await FlagAsync("Uploads")).ToString());
    }

    [Fact]
    public async Task Unknown_flag_is_404_and_a_change_without_a_reason_is_400()
    {
        var before = (await FlagAsync("OutboundWebhooks")).ToString();
        var audited = await factory.CountAuditAsync("feature_flag.changed", "OutboundWebhooks");
        var unknown = await (await _ops.Client.PutAsJsonAsync("/api/v1/admin/features/NoSuchFlag", new { enabled = false, reason = "x" })).ProblemAsync(HttpStatusCode.NotFound);
        Assert.Contains("Registration", unknown.GetProperty("detail").GetString());

        foreach (var body in new object[] { new { enabled = false }, new { enabled = false, reason = "   " }, new { enabled = false, reason = new string('x', 501) } })
        {
            var problem = await (await _ops.Client.PutAsJsonAsync("/api/v1/admin/features/OutboundWebhooks", body)).ProblemAsync(HttpStatusCode.BadRequest);
            Assert.True(problem.GetProperty("errors").TryGetProperty("reason", out _), problem.ToString());
        }
        var noValue = await (await _ops.Client.PutAsJsonAsync("/api/v1/admin/features/OutboundWebhooks", new { reason = "forgot the value" })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(noValue.GetProperty("errors").TryGetProperty("enabled", out _), noValue.ToString());

        Assert.Equal(before, (await FlagAsync("OutboundWebhooks")).ToString());
        Assert.Equal(audited, await factory.CountAuditAsync("feature_flag.changed", "OutboundWebhooks"));
    }

    [Fact]
    public async Task A_disabled_kill_switch_answers_503_naming_the_feature_and_the_change_is_audited()
    {
        var before = await FlagAsync("Workflows");
        var changed = await SetAsync("Workflows", new { enabled = false, reason = "incident 4711: runaway runs" });
        Assert.False(changed.GetProperty("flag").GetProperty("enabled").GetBoolean());
        Assert.Equal("database", changed.GetProperty("flag").GetProperty("source").GetString());
        Assert.True(changed.GetProperty("announced").GetBoolean());

        var response = await factory.CreateClient().GetAsync("/test/kill-switch");
        var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Workflows", problem.GetProperty("feature").GetString());
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);

        var flag = await FlagAsync("Workflows");
        Assert.Equal(OperatorServiceFactory.OperatorEmail, flag.GetProperty("lastChange").GetProperty("by").GetString());
        Assert.Equal("incident 4711: runaway runs", flag.GetProperty("lastChange").GetProperty("reason").GetString());

        var audit = await _ops.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit?action=feature_flag.changed&targetId=Workflows");
        var entry = audit.GetProperty("items")[0];
        Assert.Equal("user", entry.GetProperty("actorType").GetString());
        Assert.Equal(_ops.Id.ToString(), entry.GetProperty("actorId").GetString());
        Assert.Equal("incident 4711: runaway runs", entry.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal(before.GetProperty("enabled").GetBoolean(), entry.GetProperty("data").GetProperty("old").GetProperty("enabled").GetBoolean());
        Assert.Equal(before.GetProperty("source").GetString(), entry.GetProperty("data").GetProperty("old").GetProperty("source").GetString());
        Assert.False(entry.GetProperty("data").GetProperty("new").GetProperty("enabled").GetBoolean());
        Assert.False(string.IsNullOrEmpty(entry.GetProperty("requestId").GetString()));

        await SetAsync("Workflows", new { enabled = true, reason = "incident 4711 resolved" });
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().GetAsync("/test/kill-switch")).StatusCode);
        var second = await _ops.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/audit?action=feature_flag.changed&targetId=Workflows");
        var newest = second.GetProperty("items")[0].GetProperty("data");
        Assert.Equal("database", newest.GetProperty("old").GetProperty("source").GetString());
        Assert.False(newest.GetProperty("old").GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task Probes_auth_refresh_and_the_admin_api_stay_up_with_every_kill_switch_off()
    {
        var user = await factory.SignUpAsync();
        var killSwitches = new[] { "Registration", "EventIngest", "Uploads", "Workflows", "OutboundWebhooks" };
        try
        {
            foreach (var name in killSwitches) await SetAsync(name, new { enabled = false, reason = "probe test" });

            var client = factory.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/live")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
            var refresh = await client.PostAsJsonAsync("/api/v1/auth/refresh", new { refreshToken = user.RefreshToken });
            Assert.Equal(HttpStatusCode.OK, refresh.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/v1/auth/login", new { email = user.Email, password = Identity.Password })).StatusCode);
            await (await client.PostAsJsonAsync("/api/v1/auth/register", new { email = Identity.NewEmail(), password = Identity.Password, displayName = "Late" }))
                .ProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.Equal(HttpStatusCode.OK, (await _ops.Client.GetAsync("/api/v1/admin/features")).StatusCode);
        }
        finally
        {
            foreach (var name in killSwitches) await SetAsync(name, new { enabled = true, reason = "probe test over" });
        }
    }

    [Fact]
    public async Task A_release_flag_is_404_until_released()
    {
        var org = Guid.NewGuid();
        await SetAsync("Suggestions", new { enabled = false, reason = "dark launch" });
        await (await factory.CreateClient().GetAsync($"/test/orgs/{org}/release")).ProblemAsync(HttpStatusCode.NotFound);

        await SetAsync("Suggestions", new { enabled = true, reason = "general availability" });
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().GetAsync($"/test/orgs/{org}/release")).StatusCode);

        await SetAsync("Suggestions", new { enabled = false, reason = "back to dark launch" });
        await (await factory.CreateClient().GetAsync($"/test/orgs/{org}/release")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Targeting_releases_to_listed_users_and_organizations_minus_exclusions()
    {
        var (alice, bob, carol) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var (pilotOrg, excludedOrg, otherOrg) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var changed = await SetAsync("Suggestions", new
        {
            enabled = true,
            reason = "pilot",
            targeting = new
            {
                users = new[] { alice.ToString().ToUpperInvariant() },
                groups = new[] { new { name = pilotOrg.ToString(), rolloutPercentage = 100 }, new { name = excludedOrg.ToString(), rolloutPercentage = 100 } },
                defaultRolloutPercentage = 0,
                exclusion = new { users = new[] { carol.ToString() }, groups = new[] { excludedOrg.ToString() } },
            },
        });
        Assert.Equal(pilotOrg.ToString(), changed.GetProperty("flag").GetProperty("targeting").GetProperty("groups")[0].GetProperty("name").GetString());

        async Task<HttpStatusCode> AsAsync(Guid user, Guid org) =>
            (await factory.ClientWithToken(MintToken(user)).GetAsync($"/test/orgs/{org}/release")).StatusCode;

        Assert.Equal(HttpStatusCode.OK, await AsAsync(alice, otherOrg));       // listed user, any org
        Assert.Equal(HttpStatusCode.OK, await AsAsync(bob, pilotOrg));         // anyone in the pilot org
        Assert.Equal(HttpStatusCode.NotFound, await AsAsync(bob, otherOrg));   // nobody else
        Assert.Equal(HttpStatusCode.NotFound, await AsAsync(carol, pilotOrg)); // excluded user, even in the pilot org
        Assert.Equal(HttpStatusCode.NotFound, await AsAsync(bob, excludedOrg)); // excluded org wins over its group rollout
        await SetAsync("Suggestions", new { enabled = false, reason = "pilot over" });
    }

    [Fact]
    public async Task A_percentage_rollout_reaches_about_that_share_of_users_and_each_user_keeps_the_answer()
    {
        await SetAsync("Suggestions", new { enabled = true, reason = "half", targeting = new { defaultRolloutPercentage = 50 } });
        var org = Guid.NewGuid();
        var users = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToList();

        var first = new List<HttpStatusCode>();
        var again = new List<HttpStatusCode>();
        foreach (var user in users)
        {
            var client = factory.ClientWithToken(MintToken(user));
            first.Add((await client.GetAsync($"/test/orgs/{org}/release")).StatusCode);
            again.Add((await client.GetAsync($"/test/orgs/{org}/release")).StatusCode);
        }
        await SetAsync("Suggestions", new { enabled = false, reason = "half over" });

        Assert.Equal(first, again);
        Assert.All(first, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.NotFound }));
        // 200 independent fair coins: 60..140 heads fails with probability below 1e-8.
        Assert.InRange(first.Count(s => s == HttpStatusCode.OK), 60, 140);
    }

    [Fact]
    public async Task Targeting_is_refused_for_kill_switches_and_checked_for_release_flags()
    {
        var killSwitch = await (await _ops.Client.PutAsJsonAsync("/api/v1/admin/features/Uploads",
            new { enabled = true, reason = "x", targeting = new { defaultRolloutPercentage = 10 } })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(killSwitch.GetProperty("errors").TryGetProperty("targeting", out _), killSwitch.ToString());

        var invalid = await (await _ops.Client.PutAsJsonAsync("/api/v1/admin/features/Suggestions",
            new { enabled = true, reason = "x", targeting = new { defaultRolloutPercentage = 150, groups = new[] { new { name = "", rolloutPercentage = -1 } } } }))
            .ProblemAsync(HttpStatusCode.BadRequest);
        var errors = invalid.GetProperty("errors");
        await (await _ops.Client.PutAsJsonAsync("/api/v1/admin/features/Suggestions",
            new { enabled = true, reason = "x", targeting = new { defaultRolloutPercent = 50 } })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(errors.TryGetProperty("targeting.defaultRolloutPercentage", out _), invalid.ToString());
        Assert.True(errors.TryGetProperty("targeting.groups[0].name", out _), invalid.ToString());
        Assert.True(errors.TryGetProperty("targeting.groups[0].rolloutPercentage", out _), invalid.ToString());
    }

    /// <summary>An access token for a user who need not exist: targeting reads only the token's subject.</summary>
    private string MintToken(Guid userId)
    {
        var auth = factory.Services.GetRequiredService<IOptions<AuthOptions>>().Value;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = auth.Issuer,
            Audience = auth.Audience,
            Expires = DateTime.UtcNow.AddMinutes(5),
            Subject = new ClaimsIdentity([new Claim(PrincipalClaims.Subject, userId.ToString()), new Claim(PrincipalClaims.Email, $"{userId:N}@example.com")]),
            SigningCredentials = new SigningCredentials(factory.Services.GetRequiredService<SigningKey>().Key, SecurityAlgorithms.HmacSha256),
        });
    }
}
