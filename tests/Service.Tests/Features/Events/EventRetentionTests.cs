using Dapper;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Events;

/// <summary>The retention job on the real PostgreSQL: old events go in small batches, recent ones stay.</summary>
public sealed class EventRetentionTests(EventRetentionTests.Factory factory) : IClassFixture<EventRetentionTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Events:RetentionDays"] = "30";
            Settings["Events:RetentionIntervalSeconds"] = "86400"; // only the test's own instances purge
        }
    }

    [Fact]
    public async Task Events_past_retention_and_expired_idempotency_keys_are_deleted_in_bounded_batches_with_two_instances_running()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Retention");
        var recent = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events",
            new { events = Enumerable.Range(0, 5).Select(i => EventIngestTests.Event($"/recent/{i}", at: DateTimeOffset.UtcNow.AddDays(-29))) });
        await Identity.EnsureAsync(recent, HttpStatusCode.Created);
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        // Older than the window: written directly, since ingest refuses them.
        await connection.ExecuteAsync("""
            INSERT INTO events (id, org_id, source_type, source_id, type, occurred_at, path)
            SELECT gen_random_uuid(), @orgId, 'user', @userId, 'file_opened', now() - interval '31 days' - i * interval '1 minute', '/old/' || i
            FROM generate_series(1, 53) AS i
            """, new { orgId, userId = owner.Id });
        await connection.ExecuteAsync("""
            INSERT INTO idempotency_keys (org_id, caller_id, key, request_hash, status_code, response, expires_at)
            VALUES (@orgId, @userId, 'expired', 'h', 201, '{}', now() - interval '1 minute'), (@orgId, @userId, 'live', 'h', 201, '{}', now() + interval '1 hour')
            """, new { orgId, userId = owner.Id });

        var instances = new List<ServiceFactory>();
        for (var i = 0; i < 2; i++)
        {
            var instance = await factory.AnotherInstanceAsync();
            instance.Settings["Events:RetentionIntervalSeconds"] = "1";
            instance.Settings["Events:RetentionBatchSize"] = "7";
            instance.CreateClient().Dispose();
            instances.Add(instance);
        }
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM events WHERE org_id = @orgId AND path LIKE '/old/%'", new { orgId }) > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "old events still there after 30 s");
                await Task.Delay(100);
            }
        }
        finally
        {
            foreach (var instance in instances) await instance.DisposeAsync();
        }

        Assert.Equal(5, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM events WHERE org_id = @orgId AND path LIKE '/recent/%'", new { orgId }));
        Assert.Equal(["live"], (await connection.QueryAsync<string>("SELECT key FROM idempotency_keys WHERE org_id = @orgId", new { orgId })).ToArray());
        // 53 rows in statements of at most 7: at least 8 statements, whichever instance ran them.
        var runs = instances.SelectMany(i => i.Logs.Lines).Where(l => l.Message.StartsWith("Event retention deleted")).ToList();
        long Property(CapturedLine line, string name) => long.Parse(line.Properties.Single(p => p.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..]);
        Assert.Equal(53, runs.Sum(r => Property(r, "Events")));
        Assert.True(runs.Sum(r => Property(r, "Statements")) >= 8);
        Assert.All(runs, r => Assert.Equal(7, Property(r, "BatchSize")));
    }

    [Fact]
    public async Task An_organization_keeping_events_fewer_days_loses_them_sooner_and_ingest_drops_what_it_would_not_keep()
    {
        var owner = await factory.SignUpAsync();
        var brief = await owner.CreateOrgAsync("Brief");
        var standard = await owner.CreateOrgAsync("Standard");
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(Privacy.UpdatePrivacyPolicyTests.Url(brief), Privacy.UpdatePrivacyPolicyTests.Body("keep", retentionDays: 7)),
            HttpStatusCode.OK);
        var tooOld = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{brief}/events",
            new { events = new[] { EventIngestTests.Event("/brief/late.txt", at: DateTimeOffset.UtcNow.AddDays(-8)), EventIngestTests.Event("/brief/fresh.txt") } });
        await Identity.EnsureAsync(tooOld, HttpStatusCode.Created);
        Assert.Equal(1, (await tooOld.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("excluded").GetInt32());

        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        foreach (var orgId in new[] { brief, standard })
        {
            await connection.ExecuteAsync("""
                INSERT INTO events (id, org_id, source_type, source_id, type, occurred_at, path)
                SELECT gen_random_uuid(), @orgId, 'user', @userId, 'file_opened', now() - interval '10 days' - i * interval '1 minute', '/aged/' || i
                FROM generate_series(1, 12) AS i
                """, new { orgId, userId = owner.Id });
        }
        await using var instance = await factory.AnotherInstanceAsync();
        instance.Settings["Events:RetentionIntervalSeconds"] = "1";
        instance.Settings["Events:RetentionBatchSize"] = "5";
        instance.CreateClient().Dispose();
        async Task<long> AgedAsync(Guid orgId) =>
            await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM events WHERE org_id = @orgId AND path LIKE '/aged/%'", new { orgId });
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await AgedAsync(brief) > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the organization's aged events are still there after 30 s");
            await Task.Delay(100);
        }

        Assert.Equal(12, await AgedAsync(standard));
        Assert.Equal(1, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM events WHERE org_id = @brief", new { brief }));
    }
}
