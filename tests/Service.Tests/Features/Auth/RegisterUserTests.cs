using Service.Tests.Fixtures;

namespace Service.Tests.Features.Auth;

public sealed class RegisterUserTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task Registers_and_audits_a_user()
    {
        var email = Identity.NewEmail("Mixed.Case");

        var response = await _client.PostAsJsonAsync("/api/v1/auth/register", new { email = "  " + email + " ", password = Identity.Password, displayName = " Ada " });
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(email, body.GetProperty("email").GetString());
        Assert.Equal("Ada", body.GetProperty("displayName").GetString());
        Assert.False(body.TryGetProperty("passwordHash", out _));
        Assert.Equal(1, await factory.CountAuditAsync("user.registered", body.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Email_is_unique_whatever_its_case()
    {
        var email = Identity.NewEmail("unique");
        await factory.SignUpAsync(email);

        var again = await _client.PostAsJsonAsync("/api/v1/auth/register", new { email = email.ToUpperInvariant(), password = Identity.Password, displayName = "Twin" });

        var problem = await again.ProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal("Email already registered", problem.GetProperty("title").GetString());
    }

    [Theory]
    [InlineData("not-an-email", Identity.Password, "Ada", "email")]
    [InlineData("", Identity.Password, "Ada", "email")]
    [InlineData("ok@example.com", "short-pw", "Ada", "password")]
    [InlineData("ok@example.com", null, "Ada", "password")]
    [InlineData("ok@example.com", Identity.Password, "", "displayName")]
    [InlineData("ok@example.com", "Password1234", "Ada", "password")]
    [InlineData("ok@example.com", "qwerty123456", "Ada", "password")]
    [InlineData("same-as-password@example.com", "SAME-AS-PASSWORD@example.com", "Ada", "password")]
    public async Task Invalid_registrations_are_400_with_the_field_named(string email, string? password, string displayName, string field)
    {
        var response = await _client.PostAsJsonAsync("/api/v1/auth/register", new { email, password, displayName });

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }
}

/// <summary>The Registration kill switch forced off through configuration.</summary>
public sealed class RegistrationKillSwitchTests : IClassFixture<RegistrationKillSwitchTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory() => Settings["FeatureFlags:Overrides:Registration"] = "false";
    }

    private readonly Factory _factory;

    public RegistrationKillSwitchTests(Factory factory) => _factory = factory;

    [Fact]
    public async Task Registration_off_answers_503_naming_the_feature_with_Retry_After_while_login_still_works()
    {
        var response = await _factory.CreateClient().PostAsJsonAsync("/api/v1/auth/register",
            new { email = Identity.NewEmail(), password = Identity.Password, displayName = "Late" });

        var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Registration", problem.GetProperty("feature").GetString());
        Assert.Contains("temporarily disabled", problem.GetProperty("detail").GetString());
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);

        var login = await _factory.CreateClient().PostAsJsonAsync("/api/v1/auth/login", new { email = "nobody@example.com", password = "whatever-it-is" });
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }
}
