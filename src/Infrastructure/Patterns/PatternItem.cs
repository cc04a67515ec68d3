using System.IO.Hashing;
using System.Text;

namespace Service.Infrastructure.Patterns;

/// <summary>
/// What mining counts: an action (event type and tool) on a path, either the exact file or its template, the file's
/// directory with <c>**</c> and its extension (<c>/home/ana/proj/src/**/*.py</c>). The template is a trigger glob as
/// workflows understand it, so a suggestion's draft can use it as is. Sessions store 64-bit hashes of both forms.
/// </summary>
public sealed record PatternItem(string Type, string? Tool, string Path, bool Exact)
{
    /// <summary>The key a fingerprint is made of.</summary>
    public string Key => $"{Type}|{Tool}|{(Exact ? "file" : "glob")}|{Path}";

    public static long HashOf(string type, string? tool, string path, bool exact)
    {
        var text = $"{(exact ? 'e' : 't')}\n{type}\n{tool}\n{path}";
        return unchecked((long)XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>
    /// The directory template of a path: its directory, <c>**</c>, and <c>*.ext</c> (or <c>*</c> without an extension),
    /// with the path's own separator, so Windows paths stay Windows paths.
    /// </summary>
    public static string Template(string path)
    {
        var slash = path.LastIndexOfAny(['/', '\\']);
        var separator = slash >= 0 ? path[slash] : '/';
        var name = slash >= 0 ? path[(slash + 1)..] : path;
        var dot = name.LastIndexOf('.');
        // ".bashrc" has no extension; "archive.tar.gz" keeps the last one; a long "extension" is part of the name.
        var extension = dot > 0 && name.Length - dot <= 12 ? name[dot..] : "";
        var directory = slash >= 0 ? path[..slash] : "";
        return slash >= 0 ? $"{directory}{separator}**{separator}*{extension}" : $"**{separator}*{extension}";
    }

    /// <summary>The file name or template's last part, for titles ("build.sh", "*.py in src").</summary>
    public string ShortName
    {
        get
        {
            var slash = Path.LastIndexOfAny(['/', '\\']);
            if (Exact) return slash >= 0 ? Path[(slash + 1)..] : Path;
            var star = Path.LastIndexOf('*');
            var pattern = star >= 0 ? Path[star..] : Path;
            var directory = slash >= 0 ? Path[..slash] : "";
            if (directory.EndsWith("**", StringComparison.Ordinal)) directory = directory[..^2].TrimEnd('/', '\\');
            var folder = directory.LastIndexOfAny(['/', '\\']) is var i and >= 0 ? directory[(i + 1)..] : directory;
            return folder.Length > 0 ? $"{pattern} in {folder}" : pattern;
        }
    }
}
