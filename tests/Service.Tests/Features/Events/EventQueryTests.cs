using Dapper;
using Npgsql;
using Service.Features.Events;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Events;

/// <summary>Querying events against the real PostgreSQL: filters, keyset pages under concurrent ingest, index use.</summary>
public sealed class EventQueryTests(EventQueryTests.Factory factory) : IClassFixture<EventQueryTests.Factory>
{
    public sealed class Factory : EventsServiceFactory;

    private static async Task IngestAsync(HttpClient client, Guid orgId, IEnumerable<object> events)
    {
        var response = await client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new { events });
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
    }

    private static async Task<List<JsonElement>> AllPagesAsync(HttpClient client, string url, Func<Task>? betweenPages = null)
    {
        var items = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>(cursor is null ? url : $"{url}&cursor={Uri.EscapeDataString(cursor)}");
            items.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
            if (betweenPages is not null) await betweenPages();
        } while (cursor is not null);
        return items;
    }

    [Fact]
    public async Task Pages_return_every_event_exactly_once_in_order_while_new_events_arrive()
    {
        var (owner, orgId, agent, _) = await factory.OrgAsync();
        var path = $"/pages/{Guid.NewGuid()}/";
        var start = DateTimeOffset.UtcNow.AddHours(-1);
        // 250 events over 125 distinct instants: pairs share a timestamp, so the id breaks ties.
        await IngestAsync(agent, orgId, Enumerable.Range(0, 250).Select(i => EventIngestTests.Event($"{path}{i}", at: start.AddSeconds(i / 2))));
        var arriving = 0;

        var items = await AllPagesAsync(owner.Client, $"/api/v1/orgs/{orgId}/events?limit=40&pathPrefix={Uri.EscapeDataString(path)}",
            () => IngestAsync(agent, orgId, [EventIngestTests.Event($"{path}new-{arriving++}", at: DateTimeOffset.UtcNow)]));

        var original = items.Where(i => !i.GetProperty("path").GetString()!.Contains("new-")).ToList();
        Assert.Equal(250, original.Count);
        Assert.Equal(250, original.Select(i => i.GetProperty("id").GetGuid()).Distinct().Count());
        var keys = items.Select(i => (At: i.GetProperty("occurredAt").GetDateTimeOffset(), Id: i.GetProperty("id").GetGuid().ToString())).ToList();
        for (var i = 1; i < keys.Count; i++)
        {
            Assert.True(keys[i - 1].At > keys[i].At || keys[i - 1].At == keys[i].At && string.CompareOrdinal(keys[i - 1].Id, keys[i].Id) > 0, $"out of order at {i}");
        }
    }

    [Fact]
    public async Task Filters_by_time_type_path_prefix_and_source()
    {
        var (owner, orgId, agent, keyId) = await factory.OrgAsync();
        var root = $"/filters/{Guid.NewGuid()}";
        var t0 = DateTimeOffset.UtcNow.AddHours(-2);
        await IngestAsync(agent, orgId, [
            EventIngestTests.Event($"{root}/docs/a.txt", "file_opened", at: t0),
            EventIngestTests.Event($"{root}/docs/b.txt", "file_modified", at: t0.AddMinutes(10)),
            EventIngestTests.Event($"{root}/do_s/c.txt", "file_created", at: t0.AddMinutes(20)),
            EventIngestTests.Event($"{root}/d%cs/d.txt", "script_run", at: t0.AddMinutes(30)),
            EventIngestTests.Event($"{root}/b!ng/f.txt", "file_deleted", at: t0.AddMinutes(50)),
        ]);
        await IngestAsync(owner.Client, orgId, [EventIngestTests.Event($"{root}/docs/e.txt", "file_opened", at: t0.AddMinutes(40))]);
        string[] Paths(IEnumerable<JsonElement> items) => items.Select(i => i.GetProperty("path").GetString()![root.Length..]).ToArray();
        var url = $"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(root)}";

        Assert.Equal(["/docs/e.txt", "/docs/a.txt"], Paths(await AllPagesAsync(owner.Client, url + "&type=file_opened")));
        Assert.Equal(["/docs/e.txt", "/docs/b.txt", "/docs/a.txt"], Paths(await AllPagesAsync(owner.Client, url + "&type=file_opened&type=file_modified")));
        Assert.Equal(["/docs/e.txt", "/docs/b.txt", "/docs/a.txt"], Paths(await AllPagesAsync(owner.Client, $"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(root + "/docs/")}")));
        Assert.Equal(["/do_s/c.txt"], Paths(await AllPagesAsync(owner.Client, $"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(root + "/do_")}"))); // _ is literal
        Assert.Equal(["/d%cs/d.txt"], Paths(await AllPagesAsync(owner.Client, $"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(root + "/d%")}"))); // % too
        Assert.Equal(["/b!ng/f.txt"], Paths(await AllPagesAsync(owner.Client, $"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(root + "/b!")}"))); // and the escape character
        var from = Uri.EscapeDataString(t0.AddMinutes(10).ToString("O"));
        var to = Uri.EscapeDataString(t0.AddMinutes(30).ToString("O"));
        Assert.Equal(["/do_s/c.txt", "/docs/b.txt"], Paths(await AllPagesAsync(owner.Client, $"{url}&from={from}&to={to}"))); // from inclusive, to exclusive
        Assert.Equal(["/docs/e.txt"], Paths(await AllPagesAsync(owner.Client, $"{url}&source={owner.Id}")));
        Assert.Equal(5, (await AllPagesAsync(owner.Client, $"{url}&source={keyId}")).Count);
    }

    [Fact]
    public async Task Bad_query_parameters_are_400()
    {
        var (owner, orgId, _, _) = await factory.OrgAsync();
        var url = $"/api/v1/orgs/{orgId}/events";
        foreach (var query in new[] { "?limit=0", "?limit=501", "?type=file_renamed", "?cursor=nope", "?from=2026-11-22T10:00:00Z&to=2026-11-22T09:00:00Z", "?from=yesterday", "?source=nope" })
        {
            await (await owner.Client.GetAsync(url + query)).ProblemAsync(HttpStatusCode.BadRequest);
        }
    }

    public static TheoryData<string> Shapes => new() { "none", "time", "type", "types", "pathPrefix", "source", "cursor", "all" };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task Every_query_shape_is_served_by_an_index(string shape)
    {
        var (_, orgId, _, keyId) = await factory.OrgAsync();
        var now = DateTimeOffset.UtcNow;
        var query = shape switch
        {
            "time" => new ListEventsQuery(now.AddDays(-1), now, null, null, null, null, null),
            "type" => new ListEventsQuery(null, null, ["file_opened"], null, null, null, null),
            "types" => new ListEventsQuery(null, null, ["file_opened", "script_run"], null, null, null, null),
            "pathPrefix" => new ListEventsQuery(null, null, null, "/home/ana/", null, null, null),
            "source" => new ListEventsQuery(null, null, null, null, keyId, null, null),
            "all" => new ListEventsQuery(now.AddDays(-1), now, ["file_opened"], "/home/", keyId, null, null),
            _ => new ListEventsQuery(null, null, null, null, null, null, null),
        };
        (DateTime, Guid)? after = shape is "cursor" or "all" ? (now.UtcDateTime, Guid.NewGuid()) : null;
        var (sql, parameters) = ListEvents.Build(orgId, query, after, 101);

        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        // With sequential scans priced out, the planner still picks one if no index can serve the query.
        await connection.ExecuteAsync("SET LOCAL enable_seqscan = off", transaction: transaction);
        var plan = string.Join("\n", await connection.QueryAsync<string>("EXPLAIN " + sql, parameters, transaction));

        Assert.DoesNotContain("Seq Scan", plan);
        Assert.Matches("Index (Only )?Scan|Bitmap Index Scan", plan);
    }
}
