using System.Buffers;
using System.Text.Json;

namespace Service.Infrastructure.Privacy;

/// <summary>
/// Removes metadata properties by name at any depth (inside nested objects and arrays). A key matches a property whose
/// name, ignoring case, '_', '-', '.' and spaces, equals it or ends with it: "token" removes "token", "accessToken"
/// and "github_token", not "tokenCount".
/// </summary>
public sealed class MetadataScrubbing(IReadOnlyList<string> keys)
{
    private readonly string[] _keys = keys.Select(PrivacySettings.NormalizeKey).Where(k => k.Length > 0).Distinct().ToArray();

    /// <summary>The JSON object without the matching properties; the same text when none matches.</summary>
    public string Scrub(string json)
    {
        if (_keys.Length == 0) return json;
        using var document = JsonDocument.Parse(json);
        if (!HasMatch(document.RootElement)) return json;
        var buffer = new ArrayBufferWriter<byte>(json.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, document.RootElement);
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private bool Matches(string name)
    {
        var normalized = PrivacySettings.NormalizeKey(name);
        foreach (var key in _keys)
        {
            if (normalized.EndsWith(key, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private bool HasMatch(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Any(p => Matches(p.Name) || HasMatch(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Any(HasMatch),
        _ => false,
    };

    private void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    if (Matches(property.Name)) continue;
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) Write(writer, item);
                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
