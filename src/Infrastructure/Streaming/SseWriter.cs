using System.Buffers;
using System.IO.Pipelines;
using System.Text;

namespace Service.Infrastructure.Streaming;

/// <summary>
/// The text/event-stream wire format. Hand-written rather than System.Net.ServerSentEvents' SseFormatter, which
/// cannot write the comment lines the heartbeat needs; the format is four line prefixes.
/// </summary>
public static class SseWriter
{
    public static void WriteEvent(PipeWriter writer, string type, string data, long? id = null, int? retryMilliseconds = null)
    {
        var text = new StringBuilder(data.Length + type.Length + 48);
        if (retryMilliseconds is { } retry) text.Append("retry: ").Append(retry).Append('\n');
        if (id is { } value) text.Append("id: ").Append(value).Append('\n');
        text.Append("event: ").Append(type).Append('\n');
        // JSON from System.Text.Json and PostgreSQL has no raw line breaks; split anyway, as the format requires.
        foreach (var line in data.Split('\n')) text.Append("data: ").Append(line.TrimEnd('\r')).Append('\n');
        text.Append('\n');
        Write(writer, text.ToString());
    }

    private static readonly byte[] Heartbeat = ": heartbeat\n\n"u8.ToArray();

    /// <summary>The heartbeat comment; written to every idle stream, so it allocates nothing.</summary>
    public static void WriteHeartbeat(PipeWriter writer) => writer.Write(Heartbeat);

    private static void Write(PipeWriter writer, string text)
    {
        var span = writer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        writer.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
