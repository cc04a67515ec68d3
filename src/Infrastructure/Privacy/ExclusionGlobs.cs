using System.Text;
using System.Text.RegularExpressions;
using Service.Infrastructure.Workflows;

namespace Service.Infrastructure.Privacy;

/// <summary>
/// The exclusion globs of a policy as one non-backtracking regular expression (linear in the path, whatever the
/// globs). Globs follow the workflow triggers' syntax (<c>**</c> spans directories, <c>*</c> and <c>?</c> stay in a
/// segment), with three differences for privacy: matching ignores case, '\' counts as '/', and a glob without '/'
/// matches the file name in any directory (<c>*.pem</c> is <c>**/*.pem</c>). When in doubt, an event is excluded.
/// </summary>
public sealed class ExclusionGlobs
{
    private readonly Regex? _regex;

    public ExclusionGlobs(IReadOnlyList<string> globs)
    {
        if (globs.Count == 0) return;
        var pattern = new StringBuilder("^(?:");
        for (var i = 0; i < globs.Count; i++)
        {
            var glob = globs[i].Replace('\\', '/');
            if (i > 0) pattern.Append('|');
            pattern.Append(glob.Contains('/') ? "" : "(?:.*/)?").Append(PathGlob.Pattern(glob));
        }
        pattern.Append(")$");
        _regex = new Regex(pattern.ToString(), RegexOptions.NonBacktracking | RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
    }

    public bool Excludes(string path) => _regex is not null && _regex.IsMatch(path.Contains('\\') ? path.Replace('\\', '/') : path);

    /// <summary>Why a glob cannot be used, or null.</summary>
    public static string? Problem(string? glob)
    {
        if (string.IsNullOrWhiteSpace(glob)) return "A glob is required.";
        if (glob.Length > PathGlob.MaxLength) return $"At most {PathGlob.MaxLength} characters.";
        if (glob.AsSpan().ContainsAnyInRange('\u0000', '\u001f')) return "Must not contain control characters.";
        if (glob.AsSpan().IndexOfAny("[]{}") >= 0) return "Character classes and braces are not supported: list each pattern on its own.";
        var normalized = glob.Replace('\\', '/');
        if (normalized.Contains("***")) return "'***' is not a pattern: use '**' for any directories or '*' within a name.";
        for (var at = normalized.IndexOf("**", StringComparison.Ordinal); at >= 0; at = normalized.IndexOf("**", at + 2, StringComparison.Ordinal))
        {
            var before = at == 0 || normalized[at - 1] == '/';
            var after = at + 2 == normalized.Length || normalized[at + 2] == '/';
            if (!before || !after) return "'**' must be a whole path segment, as in '**/.ssh/**'.";
        }
        return null;
    }
}
