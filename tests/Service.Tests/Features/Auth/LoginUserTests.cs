using System.IdentityModel.Tokens.Jwt;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Service.Infrastructure.Security;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Auth;

public sealed class LoginUserTests : IClassFixture<LoginUserTests.Factory>
{
    /// <summary>Counts password verifications, to show unknown emails cost the same work as wrong passwords.</summary>
    public sealed class CountingHasher : IPasswordHasher<UserAccount>
    {
        private readonly PasswordHasher<UserAccount> _inner = new();
        public int Verifications;
        public string HashPassword(UserAccount user, string password) => _inner.HashPassword(user, password);
        public PasswordVerificationResult VerifyHashedPassword(UserAccount user, string hashedPassword, string providedPassword)
        {
            Interlocked.Increment(ref Verifications);
            return _inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }

    public sealed class Factory : ServiceFactory
    {
        public CountingHasher Hasher { get; } = new();

        public Factory()
        {
            Settings["Auth:Lockout:MaxFailedAttempts"] = "3";
            Settings["Auth:Lockout:BaseSeconds"] = "1";
        }

        protected override void ConfigureTestServices(IServiceCollection services) => services.AddSingleton<IPasswordHasher<UserAccount>>(Hasher);
    }

    private readonly Factory _factory;
    private readonly HttpClient _client;

    public LoginUserTests(Factory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    private Task<HttpResponseMessage> LoginAsync(string email, string password) =>
        _client.PostAsJsonAsync("/api/v1/auth/login", new { email, password });

    [Fact]
    public async Task Login_returns_tokens_that_work()
    {
        var user = await _factory.SignUpAsync();

        var response = await LoginAsync(user.Email.ToUpperInvariant(), user.Password);
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(900, body.GetProperty("expiresIn").GetInt32());
        Assert.True(body.GetProperty("refreshToken").GetString()!.Length >= 43);
        var token = new JsonWebToken(body.GetProperty("accessToken").GetString());
        Assert.Equal(user.Id.ToString(), token.Subject);
        Assert.False(string.IsNullOrEmpty(token.Id));
        Assert.Equal("HS256", token.Alg);
        var me = await _factory.ClientWithToken(token.EncodedToken).GetAsync("/api/v1/auth/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task Unknown_email_and_wrong_password_get_the_same_answer_after_the_same_work()
    {
        var user = await _factory.SignUpAsync();

        var before = _factory.Hasher.Verifications;
        var unknown = await LoginAsync(Identity.NewEmail("ghost"), user.Password);
        var afterUnknown = _factory.Hasher.Verifications;
        var wrong = await LoginAsync(user.Email, "not the right password");
        var afterWrong = _factory.Hasher.Verifications;

        var unknownProblem = await unknown.ProblemAsync(HttpStatusCode.Unauthorized);
        var wrongProblem = await wrong.ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(unknownProblem.GetProperty("title").GetString(), wrongProblem.GetProperty("title").GetString());
        Assert.Equal(unknownProblem.GetProperty("detail").GetString(), wrongProblem.GetProperty("detail").GetString());
        Assert.Equal(1, afterUnknown - before);
        Assert.Equal(1, afterWrong - afterUnknown);
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_with_a_growing_delay_and_audit_the_burst()
    {
        var user = await _factory.SignUpAsync();
        for (var i = 0; i < 3; i++) await LoginAsync(user.Email, "wrong password " + i);

        var whileLocked = await LoginAsync(user.Email, user.Password);
        Assert.Equal(HttpStatusCode.Unauthorized, whileLocked.StatusCode);
        Assert.True(await _factory.CountAuditAsync("auth.account_locked", user.Id.ToString()) >= 1);
        var firstLock = await LockSecondsAsync(user.Id);
        Assert.InRange(firstLock, 0.0, 1.5);

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        await LoginAsync(user.Email, "wrong again");
        var secondLock = await LockSecondsAsync(user.Id);
        Assert.InRange(secondLock, 1.0, 2.5); // the fourth failure doubles the delay

        await Task.Delay(TimeSpan.FromSeconds(secondLock + 0.3));
        var afterLock = await LoginAsync(user.Email, user.Password);
        Assert.Equal(HttpStatusCode.OK, afterLock.StatusCode);
        Assert.Equal(0.0, await LockSecondsAsync(user.Id));
    }

    public static TheoryData<string, string> ForgedTokens()
    {
        var subject = Guid.NewGuid().ToString();
        string Sign(string key, string? issuer = "workflow-service", string? audience = "workflow-api", DateTime? expires = null, DateTime? notBefore = null) =>
            new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = issuer,
                Audience = audience,
                NotBefore = notBefore ?? DateTime.UtcNow.AddMinutes(-10),
                Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
                Subject = new ClaimsIdentity([new Claim("sub", subject)]),
                SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), SecurityAlgorithms.HmacSha256),
            });
        var unsigned = new JwtSecurityTokenHandler().WriteToken(new JwtSecurityToken(
            new JwtHeader(), new JwtPayload("workflow-service", "workflow-api", [new Claim("sub", subject)], DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(10))));
        return new()
        {
            { "alg none", unsigned },
            { "wrong key", Sign("another-secret-key-of-sufficient-length-0123456789") },
            { "wrong issuer", Sign(ServiceFactory.TestSecretKey, issuer: "someone-else") },
            { "wrong audience", Sign(ServiceFactory.TestSecretKey, audience: "another-api") },
            { "expired", Sign(ServiceFactory.TestSecretKey, expires: DateTime.UtcNow.AddMinutes(-5), notBefore: DateTime.UtcNow.AddMinutes(-20)) },
            { "not yet valid", Sign(ServiceFactory.TestSecretKey, notBefore: DateTime.UtcNow.AddMinutes(5), expires: DateTime.UtcNow.AddMinutes(20)) },
            { "garbage", "not.a.jwt" },
        };
    }

    [Theory]
    [MemberData(nameof(ForgedTokens))]
    public async Task Invalid_access_tokens_are_401(string why, string token)
    {
        var client = _factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var response = await client.GetAsync("/api/v1/auth/me");

        await response.ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.True(response.Headers.WwwAuthenticate.Any(h => h.Scheme == "Bearer"), why);
    }

    [Fact]
    public async Task A_correctly_signed_token_made_outside_the_service_is_accepted()
    {
        // The control for the forged tokens above: only the flaw each one carries gets it rejected.
        var user = await _factory.SignUpAsync();
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "workflow-service",
            Audience = "workflow-api",
            Expires = DateTime.UtcNow.AddMinutes(5),
            Subject = new ClaimsIdentity([new Claim("sub", user.Id.ToString())]),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(ServiceFactory.TestSecretKey)), SecurityAlgorithms.HmacSha256),
        });

        Assert.Equal(HttpStatusCode.OK, (await _factory.ClientWithToken(token).GetAsync("/api/v1/auth/me")).StatusCode);
    }

    [Theory]
    [InlineData(null, "pw")]
    [InlineData("a@example.com", null)]
    public async Task Missing_fields_are_400(string? email, string? password)
    {
        await (await LoginAsync(email!, password!)).ProblemAsync(HttpStatusCode.BadRequest);
    }

    private async Task<double> LockSecondsAsync(Guid userId)
    {
        await using var dataSource = TestDatabases.OpenDataSource(_factory.DatabaseName);
        await using var command = dataSource.CreateCommand("SELECT COALESCE(GREATEST(EXTRACT(EPOCH FROM locked_until - now()), 0), 0)::float8 FROM users WHERE id = $1");
        command.Parameters.AddWithValue(userId);
        return (double)(await command.ExecuteScalarAsync())!;
    }
}
