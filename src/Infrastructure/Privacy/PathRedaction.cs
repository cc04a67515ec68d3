using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Service.Infrastructure.Privacy;

/// <summary>
/// How a path is stored under each mode. <c>home</c>: the home-directory prefix becomes <c>~</c> (a Windows path's
/// remaining separators become '/'). <c>hash_dirs</c>: every directory segment becomes <c>#</c> and 16 hex digits of
/// HMAC-SHA256 under the organization's key, so equal directories stay equal (patterns still form) and nothing
/// readable is left; the file name is kept, or with HashFileNames its stem is hashed and its extension kept. A
/// segment already in hashed form is left as it is, so a stored path used as a prefix finds itself.
/// The same rewriting turns a query's path prefix into the stored form: complete directories are hashed, and a
/// trailing part without a separator is read as a file name (kept, so it may be the start of one; or hashed whole).
/// </summary>
public sealed partial class PathRedaction(string mode, bool hashFileNames, byte[]? key)
{
    private const int HashHexDigits = 16;
    private const int MaxCachedSegments = 50_000;
    private readonly ConcurrentDictionary<string, string> _hashes = new(StringComparer.Ordinal);

    public string Redact(string path) => mode switch
    {
        PathModes.Home => Home(path),
        PathModes.HashDirs => HashDirs(path),
        _ => path,
    };

    public static string Home(string path)
    {
        var match = HomePrefix().Match(path);
        if (!match.Success) return path;
        var rest = path[match.Length..];
        return "~" + (match.Groups["windows"].Success ? rest.Replace('\\', '/') : rest);
    }

    private string HashDirs(string path)
    {
        var builder = new StringBuilder(path.Length + 32);
        var start = 0;
        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] is not ('/' or '\\')) continue;
            AppendDirectory(builder, path.AsSpan(start, i - start));
            builder.Append(path[i]);
            start = i + 1;
        }
        var name = path.AsSpan(start);
        if (name.Length > 0) AppendFileName(builder, name);
        return builder.ToString();
    }

    private void AppendDirectory(StringBuilder builder, ReadOnlySpan<char> segment)
    {
        if (segment.Length == 0 || IsHashed(segment)) builder.Append(segment);
        else builder.Append(Hash(segment));
    }

    private void AppendFileName(StringBuilder builder, ReadOnlySpan<char> name)
    {
        if (!hashFileNames || IsHashed(name))
        {
            builder.Append(name);
            return;
        }
        var dot = name.LastIndexOf('.');
        if (dot <= 0)
        {
            builder.Append(Hash(name));
            return;
        }
        var stem = name[..dot];
        if (IsHashed(stem)) builder.Append(stem);
        else builder.Append(Hash(stem));
        builder.Append(name[dot..]);
    }

    private string Hash(ReadOnlySpan<char> segment)
    {
        var text = segment.ToString();
        if (_hashes.TryGetValue(text, out var cached)) return cached;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key ?? throw new InvalidOperationException("hash_dirs needs the organization's path key"), Encoding.UTF8.GetBytes(text), mac);
        var hashed = "#" + Convert.ToHexStringLower(mac[..(HashHexDigits / 2)]);
        if (_hashes.Count >= MaxCachedSegments) _hashes.Clear();
        _hashes[text] = hashed;
        return hashed;
    }

    private static bool IsHashed(ReadOnlySpan<char> segment) =>
        segment.Length == HashHexDigits + 1 && segment[0] == '#' && !segment[1..].ContainsAnyExcept("0123456789abcdef");

    [GeneratedRegex(@"^(?:/home/[^/]+|/Users/[^/]+|/root|(?<windows>[A-Za-z]:[\\/](?i:Users|Documents and Settings)[\\/][^\\/]+))(?=[\\/]|$)", RegexOptions.CultureInvariant)]
    private static partial Regex HomePrefix();
}
