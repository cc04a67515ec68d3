using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Service.Features.Account;

/// <summary>
/// Writes an export as a ZIP straight to the response: each file is one query read row by row and written as a JSON
/// array, flushed every few KiB, so memory stays flat however many rows there are. ZipArchive still writes parts of
/// an entry synchronously (closing its compressor), which the server refuses on a response; it writes into a small
/// buffer instead, which is sent on asynchronously after every flush.
/// </summary>
internal sealed class ExportArchive(ZipArchive zip, PendingBytes pending, NpgsqlConnection connection, CancellationToken cancellationToken)
{
    private const int FlushBytes = 32 * 1024;

    public static async Task WriteAsync(Stream body, NpgsqlConnection connection, Func<ExportArchive, Task> write, CancellationToken cancellationToken)
    {
        var pending = new PendingBytes(body);
        var zip = new ZipArchive(pending, ZipArchiveMode.Create, leaveOpen: true);
        await write(new ExportArchive(zip, pending, connection, cancellationToken));
        zip.Dispose(); // the central directory, into the buffer
        await pending.SendAsync(cancellationToken);
    }

    public async Task TextAsync(string name, string text)
    {
        await using (var stream = await zip.CreateEntry(name, CompressionLevel.Fastest).OpenAsync(cancellationToken))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        }
        await pending.SendAsync(cancellationToken);
    }

    /// <summary>One JSON file: the query's rows as objects named by the column aliases (an array, or the single row as an object).</summary>
    public async Task RowsAsync(string name, string sql, Guid userId, bool single = false, Func<NpgsqlDataReader, Utf8JsonWriter, Task>? extra = null,
        string[]? hidden = null)
    {
        await using (var stream = await zip.CreateEntry(name, CompressionLevel.Fastest).OpenAsync(cancellationToken))
        {
            await WriteRowsAsync(stream, sql, userId, single, extra, hidden);
        }
        await pending.SendAsync(cancellationToken);
    }

    private async Task WriteRowsAsync(Stream stream, string sql, Guid userId, bool single, Func<NpgsqlDataReader, Utf8JsonWriter, Task>? extra, string[]? hidden)
    {
        await using var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = single });
        await using var command = new NpgsqlCommand(sql, connection) { Parameters = { new NpgsqlParameter<Guid> { TypedValue = userId } } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!single) writer.WriteStartArray();
        while (await reader.ReadAsync(cancellationToken))
        {
            writer.WriteStartObject();
            for (var i = 0; i < reader.FieldCount; i++)
            {
                var column = reader.GetName(i);
                if (hidden?.Contains(column) == true) continue;
                writer.WritePropertyName(column);
                WriteValue(writer, reader, i);
            }
            if (extra is not null) await extra(reader, writer);
            writer.WriteEndObject();
            if (single) break;
            if (writer.BytesPending > FlushBytes)
            {
                await writer.FlushAsync(cancellationToken);
                await pending.SendAsync(cancellationToken);
            }
        }
        if (!single) writer.WriteEndArray();
        await writer.FlushAsync(cancellationToken);
    }

    private static void WriteValue(Utf8JsonWriter writer, NpgsqlDataReader reader, int i)
    {
        if (reader.IsDBNull(i))
        {
            writer.WriteNullValue();
            return;
        }
        switch (reader.GetDataTypeName(i))
        {
            case "jsonb" or "json": writer.WriteRawValue(reader.GetString(i), skipInputValidation: true); break;
            case "uuid": writer.WriteStringValue(reader.GetGuid(i)); break;
            case "timestamp with time zone": writer.WriteStringValue(new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(i), DateTimeKind.Utc))); break;
            case "bigint": writer.WriteNumberValue(reader.GetInt64(i)); break;
            case "integer": writer.WriteNumberValue(reader.GetInt32(i)); break;
            case "boolean": writer.WriteBooleanValue(reader.GetBoolean(i)); break;
            default: writer.WriteStringValue(reader.GetValue(i).ToString()); break;
        }
    }
}

/// <summary>A write-only, forward-only buffer in front of the response: written synchronously, sent on asynchronously.</summary>
internal sealed class PendingBytes(Stream body) : Stream
{
    private readonly MemoryStream _buffer = new();

    public async Task SendAsync(CancellationToken cancellationToken)
    {
        if (_buffer.Length == 0) return;
        await body.WriteAsync(_buffer.GetBuffer().AsMemory(0, (int)_buffer.Length), cancellationToken);
        await body.FlushAsync(cancellationToken);
        _buffer.SetLength(0);
    }

    public override void Write(byte[] buffer, int offset, int count) => _buffer.Write(buffer, offset, count);
    public override void Write(ReadOnlySpan<byte> buffer) => _buffer.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        _buffer.Write(buffer, offset, count);
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _buffer.Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override void Flush() { }
    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
