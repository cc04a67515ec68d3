using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Service.Infrastructure.Security;

/// <summary>The HS256 key from SECRET_KEY (its UTF-8 bytes). Production refuses to start without one (SecurityOptionsValidator).</summary>
public sealed class SigningKey
{
    public SigningKey(IOptions<SecurityOptions> options, ILogger<SigningKey> logger)
    {
        var secret = options.Value.SecretKey;
        if (string.IsNullOrEmpty(secret))
        {
            // Only reachable outside Production: tokens then die with the process and differ between instances.
            logger.LogWarning("SECRET_KEY is not set: signing with a random per-process key; tokens will not survive a restart");
            Key = new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32));
        }
        else
        {
            Key = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret));
        }
    }

    public SymmetricSecurityKey Key { get; }
}
