using System.Buffers.Text;
using System.Text;

namespace Service.Infrastructure.Http;

/// <summary>
/// The opaque cursor of a keyset-paginated list ordered by (timestamp desc, id desc): the last row's timestamp,
/// microsecond-exact like PostgreSQL's timestamptz, and its id, base64url-encoded.
/// </summary>
public static class PageCursor
{
    public static string Encode(DateTime at, string id) =>
        Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{(at.ToUniversalTime() - DateTime.UnixEpoch).Ticks / 10}.{id}"));

    public static string Encode(DateTime at, Guid id) => Encode(at, id.ToString("N"));

    /// <summary>A cursor of a list keyed by (timestamp, uuid); null when it is not one.</summary>
    public static (DateTime At, Guid Id)? TryDecodeGuid(string cursor) =>
        TryDecode(cursor, out var at, out var id) && Guid.TryParseExact(id, "N", out var guid) ? (at, guid) : null;

    public static bool TryDecode(string cursor, out DateTime at, out string id)
    {
        (at, id) = (default, "");
        try
        {
            var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(cursor)).Split('.');
            if (parts.Length != 2 || !long.TryParse(parts[0], out var micros) || parts[1].Length == 0) return false;
            at = DateTime.SpecifyKind(DateTime.UnixEpoch.AddTicks(checked(micros * 10)), DateTimeKind.Utc);
            id = parts[1];
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or OverflowException)
        {
            return false;
        }
    }
}
