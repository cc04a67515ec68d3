using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Security;

/// <summary>Operators are the users listed in ADMIN_EMAILS (case-insensitive); everyone else is refused.</summary>
public sealed class OperatorPolicyTests : IClassFixture<OperatorPolicyTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public const string OperatorEmail = "ops-lead@example.com";

        public Factory() => Settings["Auth:AdminEmails"] = $" someone@example.com , {OperatorEmail.ToUpperInvariant()} ";
    }

    private readonly Factory _factory;

    public OperatorPolicyTests(Factory factory) => _factory = factory;

    [Fact]
    public async Task Listed_operators_pass_and_other_users_get_403()
    {
        var operatorUser = await _factory.SignUpAsync(Factory.OperatorEmail);
        var ordinary = await _factory.SignUpAsync();

        Assert.Equal(HttpStatusCode.OK, (await operatorUser.Client.GetAsync("/api/v1/admin/features")).StatusCode);
        await (await ordinary.Client.GetAsync("/api/v1/admin/features")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await _factory.CreateClient().GetAsync("/api/v1/admin/features")).ProblemAsync(HttpStatusCode.Unauthorized);
    }
}
