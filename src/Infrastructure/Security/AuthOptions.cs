using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Security;

public sealed class AuthOptions
{
    public const string Section = "Auth";

    [Required(ErrorMessage = "Auth:Issuer (env Auth__Issuer): is not set. Fix: e.g. workflow-service.")]
    public string Issuer { get; set; } = "workflow-service";

    [Required(ErrorMessage = "Auth:Audience (env Auth__Audience): is not set. Fix: e.g. workflow-api.")]
    public string Audience { get; set; } = "workflow-api";

    [Range(1, 1440, ErrorMessage = "Auth:AccessTokenMinutes (env Auth__AccessTokenMinutes): must be from 1 to 1440. Fix: e.g. 15.")]
    public int AccessTokenMinutes { get; set; } = 15;

    [Range(1, 365, ErrorMessage = "Auth:RefreshTokenDays (env Auth__RefreshTokenDays): must be from 1 to 365. Fix: e.g. 30.")]
    public int RefreshTokenDays { get; set; } = 30;

    [Range(0, 300, ErrorMessage = "Auth:ClockSkewSeconds (env Auth__ClockSkewSeconds): must be from 0 to 300. Fix: e.g. 30.")]
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>Comma-separated emails of operators (system role "ops", admin API) (ADMIN_EMAILS).</summary>
    public string AdminEmails { get; set; } = "";

    [ValidateObjectMembers]
    public LockoutOptions Lockout { get; set; } = new();

    public sealed class LockoutOptions
    {
        [Range(1, 100, ErrorMessage = "Auth:Lockout:MaxFailedAttempts (env Auth__Lockout__MaxFailedAttempts): must be from 1 to 100. Fix: e.g. 5.")]
        public int MaxFailedAttempts { get; set; } = 5;

        [Range(1, 86_400, ErrorMessage = "Auth:Lockout:BaseSeconds (env Auth__Lockout__BaseSeconds): must be from 1 to 86400. Fix: e.g. 30.")]
        public int BaseSeconds { get; set; } = 30;

        [Range(1, 86_400, ErrorMessage = "Auth:Lockout:MaxSeconds (env Auth__Lockout__MaxSeconds): must be from 1 to 86400. Fix: e.g. 900.")]
        public int MaxSeconds { get; set; } = 900;
    }

    public bool IsAdminEmail(string? email) =>
        email is not null && Settings.SettingLists.Split(AdminEmails).Any(a => string.Equals(a, email, StringComparison.OrdinalIgnoreCase));
}
