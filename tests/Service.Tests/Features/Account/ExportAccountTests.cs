using System.IO.Compression;
using Dapper;
using Service.Tests.Features.Uploads;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Account;

/// <summary>The account export: every file, only the caller's data, no token material, audited and rate limited.</summary>
public sealed class ExportAccountTests(ExportAccountTests.Factory factory) : IClassFixture<ExportAccountTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["RateLimits:Policies:exports:PerMinute"] = "3";
        }
    }

    public static async Task<Dictionary<string, string>> ExportAsync(HttpClient client)
    {
        var response = await client.GetAsync("/api/v1/account/export");
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("attachment", response.Content.Headers.ContentDisposition?.ToString());
        using var zip = new ZipArchive(new MemoryStream(await response.Content.ReadAsByteArrayAsync()));
        var files = new Dictionary<string, string>();
        foreach (var entry in zip.Entries)
        {
            using var reader = new StreamReader(entry.Open());
            files[entry.FullName] = await reader.ReadToEndAsync();
        }
        return files;
    }

    [Fact]
    public async Task The_export_holds_the_callers_profile_memberships_sessions_events_uploads_notifications_and_audit_entries_and_nothing_of_others()
    {
        var ana = await factory.SignUpAsync();
        var bo = await factory.SignUpAsync();
        var own = await ana.CreateOrgAsync("Ana's");
        var shared = await bo.CreateOrgAsync("Bo's");
        await bo.AddMemberAsync(shared, ana, "member"); // a notification for Ana, an audit entry with Ana as target
        foreach (var (client, orgId, path) in new[] { (ana.Client, own, "/ana/one.md"), (ana.Client, shared, "/ana/two.md"), (bo.Client, shared, "/bo/secret-plans.md") })
        {
            await Identity.EnsureAsync(await client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events",
                new { events = new[] { new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O"), path, metadata = new { lines = 3 } } } }), HttpStatusCode.Created);
        }
        var pdf = UploadRequests.Pdf(2048);
        await Identity.EnsureAsync(await UploadRequests.UploadAsync(ana.Client, own, pdf, "contract.pdf", "application/pdf"), HttpStatusCode.Created);

        var files = await ExportAsync(ana.Client);

        Assert.Equal(["README.txt", "audit.json", "events.json", "memberships.json", "notifications.json", "profile.json", "sessions.json", "uploads.json"], files.Keys.Order(StringComparer.Ordinal).ToArray());
        var profile = JsonDocument.Parse(files["profile.json"]).RootElement;
        Assert.Equal(ana.Email, profile.GetProperty("email").GetString());
        Assert.Equal(ana.Id, profile.GetProperty("id").GetGuid());
        var memberships = JsonDocument.Parse(files["memberships.json"]).RootElement.EnumerateArray().ToList();
        Assert.Equal([("Ana's", "owner"), ("Bo's", "member")], memberships.Select(m => (m.GetProperty("orgName").GetString()!, m.GetProperty("role").GetString()!)).Order().ToArray());
        var events = JsonDocument.Parse(files["events.json"]).RootElement.EnumerateArray().ToList();
        Assert.Equal(["/ana/one.md", "/ana/two.md"], events.Select(e => e.GetProperty("path").GetString()!).Order().ToArray());
        Assert.Equal(3, events[0].GetProperty("metadata").GetProperty("lines").GetInt32());
        var sessions = JsonDocument.Parse(files["sessions.json"]).RootElement.EnumerateArray().ToList();
        Assert.Single(sessions, s => s.GetProperty("active").GetBoolean());
        Assert.Contains(JsonDocument.Parse(files["notifications.json"]).RootElement.EnumerateArray(), n => n.GetProperty("orgId").GetGuid() == shared);
        var audit = JsonDocument.Parse(files["audit.json"]).RootElement.EnumerateArray().ToList();
        Assert.Contains(audit, a => a.GetProperty("action").GetString() == "member.added" && a.GetProperty("targetId").GetString() == ana.Id.ToString());
        Assert.Contains(audit, a => a.GetProperty("action").GetString() == "org.created" && a.GetProperty("orgId").GetGuid() == own);

        var upload = Assert.Single(JsonDocument.Parse(files["uploads.json"]).RootElement.EnumerateArray());
        Assert.Equal("contract.pdf", upload.GetProperty("fileName").GetString());
        Assert.False(upload.TryGetProperty("storageKey", out _));
        var download = await new HttpClient().GetAsync(upload.GetProperty("downloadUrl").GetString());
        Assert.Equal(pdf, await download.Content.ReadAsByteArrayAsync());

        var everything = string.Concat(files.Values);
        foreach (var foreign in new[] { "secret-plans", bo.Email, ana.RefreshToken, ana.AccessToken, "AQAAAA" /* a password hash's prefix */ })
        {
            Assert.DoesNotContain(foreign, everything);
        }
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'account.exported' AND actor_id = @id", new { id = ana.Id.ToString() }));
    }

    [Fact]
    public async Task A_client_that_goes_away_in_the_middle_of_an_export_leaves_every_connection_usable()
    {
        var ana = await factory.SignUpAsync();
        var orgId = await ana.CreateOrgAsync();
        await using (var db = TestDatabases.OpenDataSource(factory.DatabaseName))
        {
            await db.CreateCommand($"""
                INSERT INTO events (id, org_id, source_type, source_id, type, occurred_at, path, metadata)
                SELECT gen_random_uuid(), '{orgId}', 'user', '{ana.Id}', 'file_opened', now() - i * interval '1 second', '/big/' || i,
                       jsonb_build_object('note', repeat('n', 2000))
                FROM generate_series(1, 20000) AS i
                """).ExecuteNonQueryAsync();
        }
        for (var i = 0; i < 2; i++)
        {
            using var response = await ana.Client.GetAsync("/api/v1/account/export", HttpCompletionOption.ResponseHeadersRead);
            await Identity.EnsureAsync(response, HttpStatusCode.OK);
            var stream = await response.Content.ReadAsStreamAsync();
            await stream.ReadExactlyAsync(new byte[4096]);
        }
        for (var i = 0; i < 60; i++)
        {
            await Identity.EnsureAsync(await ana.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name = $"k{i}" }), HttpStatusCode.Created);
            await Identity.EnsureAsync(await ana.Client.GetAsync($"/api/v1/orgs/{orgId}/events?limit=5"), HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task Exports_are_rate_limited_per_user_and_agent_keys_cannot_export()
    {
        var ana = await factory.SignUpAsync();
        var orgId = await ana.CreateOrgAsync();
        for (var i = 0; i < 3; i++) await ExportAsync(ana.Client);
        var limited = await ana.Client.GetAsync("/api/v1/account/export");
        await limited.ProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.True(limited.Headers.RetryAfter is not null);
        var other = await factory.SignUpAsync();
        await ExportAsync(other.Client);

        var (_, key) = await ana.CreateApiKeyAsync(orgId);
        await (await factory.ClientWithApiKey(key).GetAsync("/api/v1/account/export")).ProblemAsync(HttpStatusCode.Forbidden);
        await (await factory.CreateClient().GetAsync("/api/v1/account/export")).ProblemAsync(HttpStatusCode.Unauthorized);
    }
}
