using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// Path globs as triggers and the <c>matches</c> operator use them: <c>**</c> spans directories, <c>*</c> and <c>?</c>
/// stay within one segment, everything else is literal (case-sensitive). Compiled to non-backtracking regexes, so a
/// hostile pattern costs linear time, and cached.
/// </summary>
public static class PathGlob
{
    public const int MaxLength = 512;
    private static readonly ConcurrentDictionary<string, Regex> Cache = new();

    public static string? Problem(string? glob) =>
        string.IsNullOrEmpty(glob) ? "A glob is required." : glob.Length > MaxLength ? $"At most {MaxLength} characters." : null;

    public static bool IsMatch(string glob, string path)
    {
        if (Problem(glob) is not null) return false;
        if (Cache.Count > 10_000) Cache.Clear();
        return Cache.GetOrAdd(glob, Compile).IsMatch(path);
    }

    private static Regex Compile(string glob) =>
        new("^" + Pattern(glob) + "$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);

    /// <summary>The regular expression of a glob, without anchors.</summary>
    public static string Pattern(string glob)
    {
        var pattern = new StringBuilder();
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            if (c == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                i++;
                // "**/" also matches no directory at all: /reports/**/*.csv matches /reports/q3.csv.
                if (i + 1 < glob.Length && glob[i + 1] == '/') { i++; pattern.Append("(?:.*/)?"); }
                else pattern.Append(".*");
            }
            else if (c == '*') pattern.Append("[^/]*");
            else if (c == '?') pattern.Append("[^/]");
            else pattern.Append(Regex.Escape(c.ToString()));
        }
        return pattern.ToString();
    }
}
