using System.Text;

namespace Service.Features.Uploads;

/// <summary>
/// The name a file is shown and downloaded under: the last path segment, without control characters, "..",
/// or characters that need quoting, at most <see cref="MaxLength"/> characters with its extension kept.
/// It is part of the storage key only after the upload id, so it can never address another object.
/// </summary>
public static class UploadFileName
{
    public const int MaxLength = 128;

    public static string Sanitize(string? raw)
    {
        var name = (raw ?? "").Replace('\\', '/');
        name = name[(name.LastIndexOf('/') + 1)..];
        var clean = new StringBuilder(name.Length);
        foreach (var c in name.Normalize(NormalizationForm.FormC))
        {
            if (char.IsControl(c) || char.IsSurrogate(c)) continue;
            clean.Append(char.IsLetterOrDigit(c) || c is '.' or '-' or '_' or ' ' or '(' or ')' ? c : '_');
        }
        name = clean.ToString();
        while (name.Contains("..", StringComparison.Ordinal)) name = name.Replace("..", ".", StringComparison.Ordinal);
        name = name.Trim(' ', '.');
        if (name.Length == 0) return "file";
        if (name.Length <= MaxLength) return name;

        var extension = Path.GetExtension(name);
        if (extension.Length > 16) extension = "";
        return name[..(MaxLength - extension.Length)].TrimEnd(' ', '.') + extension;
    }
}
