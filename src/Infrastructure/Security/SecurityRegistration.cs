using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Security;

public static class SecurityRegistration
{
    private const string BearerOrApiKey = "BearerOrApiKey";

    public static IServiceCollection AddSecurity(this IServiceCollection services)
    {
        services.AddValidatedOptions<SecurityOptions>(SecurityOptions.Section);
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecurityOptionsValidator>();
        services.AddValidatedOptions<AuthOptions>(AuthOptions.Section);

        services.AddSingleton<SigningKey>();
        services.AddSingleton<TokenIssuer>();
        services.AddSingleton<IPasswordHasher<UserAccount>, PasswordHasher<UserAccount>>();
        services.AddSingleton<Passwords>();

        // One default scheme: a stream ticket on the stream route goes to its handler, agent keys to the ApiKey handler,
        // everything else is a bearer token.
        services.AddAuthentication(BearerOrApiKey)
            .AddPolicyScheme(BearerOrApiKey, "Bearer token or agent key", o => o.ForwardDefaultSelector = context =>
                StreamTicketAuthenticationHandler.Applies(context.Request) ? StreamTicketAuthenticationHandler.SchemeName
                : ApiKeyAuthenticationHandler.ReadKey(context.Request) is not null ? ApiKeyAuthenticationHandler.SchemeName
                : JwtBearerDefaults.AuthenticationScheme)
            .AddJwtBearer(o => o.MapInboundClaims = false)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, StreamTicketAuthenticationHandler>(StreamTicketAuthenticationHandler.SchemeName, null);

        services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme).Configure<SigningKey, IOptions<AuthOptions>>((jwt, key, auth) =>
        {
            jwt.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = auth.Value.Issuer,
                ValidAudience = auth.Value.Audience,
                IssuerSigningKey = key.Key,
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256], // never "none", never another algorithm
                RequireSignedTokens = true,
                RequireExpirationTime = true,
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                ValidateIssuerSigningKey = true,
                ClockSkew = TimeSpan.FromSeconds(auth.Value.ClockSkewSeconds),
                NameClaimType = PrincipalClaims.Subject,
            };
            // Keep only the claims the service reads. The validated token otherwise stays referenced by the principal
            // for as long as the request runs, which for a live stream is hours (a few KiB per open stream).
            jwt.Events = new JwtBearerEvents
            {
                OnTokenValidated = context =>
                {
                    context.Principal = PrincipalClaims.Keep(context.Principal!, JwtBearerDefaults.AuthenticationScheme, PrincipalClaims.Subject, PrincipalClaims.Email, PrincipalClaims.Expires);
                    return Task.CompletedTask;
                },
            };
        });

        AuthPolicies.Register(services.AddAuthorizationBuilder());
        services.AddSingleton<IAuthorizationHandler, OrgAuthorizationHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AuthorizationProblems>();
        return services;
    }
}
