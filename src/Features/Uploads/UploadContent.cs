using System.Text;

namespace Service.Features.Uploads;

/// <summary>
/// What an upload may contain: a declared type from the allowed list, an extension that belongs to it, and leading
/// bytes that match it. A renamed executable fails the last check whatever it claims to be.
/// </summary>
public static class UploadContent
{
    /// <summary>Bytes of the file the checks need at most.</summary>
    public const int SniffLength = 512;

    private static readonly Dictionary<string, (string[] Extensions, Func<ReadOnlyMemory<byte>, bool> Matches)> Types = new(StringComparer.OrdinalIgnoreCase)
    {
        ["application/pdf"] = ([".pdf"], b => StartsWith(b, "%PDF-"u8)),
        ["image/png"] = ([".png"], b => StartsWith(b, [(byte)0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])),
        ["image/jpeg"] = ([".jpg", ".jpeg"], b => StartsWith(b, [(byte)0xFF, 0xD8, 0xFF])),
        ["image/gif"] = ([".gif"], b => StartsWith(b, "GIF87a"u8) || StartsWith(b, "GIF89a"u8)),
        ["application/zip"] = ([".zip"], IsZip),
        ["application/vnd.openxmlformats-officedocument.wordprocessingml.document"] = ([".docx"], IsZip),
        ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"] = ([".xlsx"], IsZip),
        ["text/plain"] = ([".txt", ".log", ".md"], IsText),
        ["text/csv"] = ([".csv"], IsText),
        ["application/json"] = ([".json"], IsText),
    };

    public static IReadOnlyList<string> KnownTypes { get; } = Types.Keys.ToList();

    /// <summary>Null when acceptable, else the reason (for a 415 answer).</summary>
    public static string? Check(string declaredType, string fileName, ReadOnlyMemory<byte> leadingBytes, IReadOnlyCollection<string> allowedTypes)
    {
        if (CheckDeclared(declaredType, fileName, allowedTypes) is { } reason) return reason;
        var type = Normalize(declaredType);
        if (IsExecutable(leadingBytes.Span) || !Types[type].Matches(leadingBytes))
        {
            return $"The file's content is not {type}.";
        }
        return null;
    }

    /// <summary>The checks possible before the content exists (a direct upload being announced): type and extension.</summary>
    public static string? CheckDeclared(string declaredType, string fileName, IReadOnlyCollection<string> allowedTypes)
    {
        var type = Normalize(declaredType);
        if (!allowedTypes.Contains(type, StringComparer.OrdinalIgnoreCase) || !Types.TryGetValue(type, out var rule))
        {
            return $"Content type '{type}' is not accepted. Accepted: {string.Join(", ", allowedTypes)}.";
        }
        var extension = Path.GetExtension(fileName);
        if (!rule.Extensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
        {
            return $"A {type} file must be named {string.Join(" or ", rule.Extensions)}, not '{extension}'.";
        }
        return null;
    }

    public static string Normalize(string declaredType) => declaredType.Split(';')[0].Trim().ToLowerInvariant();

    private static bool StartsWith(ReadOnlyMemory<byte> bytes, ReadOnlySpan<byte> signature) => bytes.Span.StartsWith(signature);

    private static bool IsZip(ReadOnlyMemory<byte> bytes) => StartsWith(bytes, "PK\x03\x04"u8) || StartsWith(bytes, "PK\x05\x06"u8);

    // Windows PE, ELF, scripts with an interpreter line, Mach-O (both byte orders) and universal binaries.
    private static readonly byte[][] ExecutableSignatures =
        ["MZ"u8.ToArray(), [0x7F, 0x45, 0x4C, 0x46], "#!"u8.ToArray(), [0xCF, 0xFA, 0xED, 0xFE], [0xFE, 0xED, 0xFA, 0xCF], [0xCA, 0xFE, 0xBA, 0xBE]];

    private static bool IsExecutable(ReadOnlySpan<byte> bytes)
    {
        foreach (var signature in ExecutableSignatures)
        {
            if (bytes.StartsWith(signature)) return true;
        }
        return false;
    }

    /// <summary>Text: no NUL and valid UTF-8 (a multi-byte character cut at the end of the sample is fine).</summary>
    private static bool IsText(ReadOnlyMemory<byte> bytes)
    {
        var span = bytes.Span;
        if (span.Contains((byte)0)) return false;
        var decoder = new UTF8Encoding(false, true).GetDecoder();
        try
        {
            decoder.GetCharCount(span, flush: false);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
