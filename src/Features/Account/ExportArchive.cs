using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace Service.Features.Account;

/// <summary>
/// Writes an export as a ZIP straight to the response: each file is one query read row by row and written as a JSON
/// array, flushed every few KiB, so memory stays flat however many rows there are.
/// </summary>
internal sealed class ExportArchive(ZipArchive zip, NpgsqlConnection connection, CancellationToken cancellationToken)
{
    private const int FlushBytes = 32 * 1024;

    public static async Task WriteAsync(Stream body, NpgsqlConnection connection, Func<ExportArchive, Task> write, CancellationToken cancellationToken)
    {
        await using var zip = new ZipArchive(body, ZipArchiveMode.Create, leaveOpen: true);
        await write(new ExportArchive(zip, connection, cancellationToken));
    }

    public async Task TextAsync(string name, string text)
    {
        await using var stream = await zip.CreateEntry(name, CompressionLevel.Fastest).OpenAsync(cancellationToken);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
    }

    /// <summary>One JSON file: the query's rows as objects named by the column aliases (an array, or the single row as an object).</summary>
    public async Task RowsAsync(string name, string sql, Guid userId, bool single = false, Func<NpgsqlDataReader, Utf8JsonWriter, Task>? extra = null,
        string[]? hidden = null)
    {
        await using var stream = await zip.CreateEntry(name, CompressionLevel.Fastest).OpenAsync(cancellationToken);
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
            if (writer.BytesPending > FlushBytes) await writer.FlushAsync(cancellationToken);
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
