namespace Service.Tests.Fixtures;

/// <summary>A <see cref="ServiceFactory"/> with one operator (ADMIN_EMAILS), signed up on first use.</summary>
public class OperatorServiceFactory : ServiceFactory
{
    public const string OperatorEmail = "ops@example.com";

    private Task<TestUser>? _operator;

    public OperatorServiceFactory() => Settings["Auth:AdminEmails"] = OperatorEmail;

    /// <summary>Signed up once per factory: xunit makes a test class instance per test, the class fixture is shared.</summary>
    public Task<TestUser> OperatorAsync() => _operator ??= this.SignUpAsync(OperatorEmail);
}
