using System.IO.Compression;
using Npgsql;
using NpgsqlTypes;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Features.Account;

/// <summary>
/// A large export streams: the service runs as a process whose managed heap is capped below the size of the export
/// itself, and still sends all 100,000 events of a user, complete and readable.
/// </summary>
public sealed class ExportAccountMemoryTests(ServiceFactory factory, ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    private const int Events = 100_000;
    private const long HeapLimitBytes = 128L * 1024 * 1024;

    [Fact]
    public async Task An_export_of_100000_events_larger_than_the_process_heap_limit_streams_complete()
    {
        var environment = factory.BaseSettings().Concat(factory.Settings).ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value ?? "");
        environment["ENVIRONMENT"] = "development";
        environment["DOTNET_GCHeapHardLimit"] = HeapLimitBytes.ToString("X");
        var (process, url) = await ServiceProcess.StartListeningAsync(environment, TimeSpan.FromSeconds(60));
        await using var running = process;
        var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(3) };
        var email = Identity.NewEmail();
        await Identity.EnsureAsync(await client.PostAsJsonAsync("/api/v1/auth/register", new { email, password = Identity.Password, displayName = "Ana" }), HttpStatusCode.Created);
        var login = await (await client.PostAsJsonAsync("/api/v1/auth/login", new { email, password = Identity.Password })).Content.ReadFromJsonAsync<JsonElement>();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", login.GetProperty("accessToken").GetString());
        var userId = (await client.GetFromJsonAsync<JsonElement>("/api/v1/auth/me")).GetProperty("id").GetGuid();
        var created = await client.PostAsJsonAsync("/api/v1/orgs", new { name = "Big" });
        var orgId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await InsertEventsAsync(orgId, userId);
        var rssBefore = Status(process.Id, "VmRSS");

        var file = Path.Combine(Path.GetTempPath(), $"export-{Guid.NewGuid():N}.zip");
        try
        {
            using (var response = await client.GetAsync("/api/v1/account/export", HttpCompletionOption.ResponseHeadersRead))
            {
                await Identity.EnsureAsync(response, HttpStatusCode.OK);
                await using var target = File.Create(file);
                await (await response.Content.ReadAsStreamAsync()).CopyToAsync(target);
            }
            var peak = Status(process.Id, "VmHWM");

            using var zip = ZipFile.OpenRead(file);
            var entry = zip.GetEntry("events.json")!;
            var count = 0;
            await using (var stream = entry.Open())
            {
                await foreach (var item in JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream))
                {
                    count++;
                }
            }
            output.WriteLine($"events.json: {entry.Length / 1048576.0:0} MiB ({new FileInfo(file).Length / 1048576.0:0} MiB compressed); heap limit {HeapLimitBytes / 1048576} MiB; " +
                             $"RSS before {rssBefore / 1024} MiB, peak {peak / 1024} MiB");
            Assert.Equal(Events, count);
            Assert.True(entry.Length > HeapLimitBytes, $"the export ({entry.Length} bytes) must be larger than the heap limit to prove anything");
            Assert.False(process.HasExited);
            Assert.True(peak - rssBefore < 100 * 1024, $"the process grew by {(peak - rssBefore) / 1024} MiB while exporting");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private async Task InsertEventsAsync(Guid orgId, Guid userId)
    {
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY events (id, org_id, source_type, source_id, type, occurred_at, path, metadata) FROM STDIN (FORMAT BINARY)");
        var start = DateTime.UtcNow.AddDays(-20);
        var metadata = JsonSerializer.Serialize(new { note = new string('n', 1200) });
        for (var i = 0; i < Events; i++)
        {
            await copy.StartRowAsync();
            await copy.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
            await copy.WriteAsync(orgId, NpgsqlDbType.Uuid);
            await copy.WriteAsync("user", NpgsqlDbType.Text);
            await copy.WriteAsync(userId, NpgsqlDbType.Uuid);
            await copy.WriteAsync("file_modified", NpgsqlDbType.Text);
            await copy.WriteAsync(start.AddSeconds(i * 10), NpgsqlDbType.TimestampTz);
            await copy.WriteAsync($"/work/project/src/module{i % 50}/file{i % 997}.cs", NpgsqlDbType.Text);
            await copy.WriteAsync(metadata, NpgsqlDbType.Jsonb);
        }
        await copy.CompleteAsync();
    }

    /// <summary>A field of /proc/PID/status, in KiB.</summary>
    private static long Status(int pid, string field) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
