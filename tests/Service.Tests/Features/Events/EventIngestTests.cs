using System.Net.Http.Headers;
using Dapper;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Events;

/// <summary>Batch ingest against the real PostgreSQL: validation, atomicity, idempotency, tenancy.</summary>
public sealed class EventIngestTests(EventIngestTests.Factory factory) : IClassFixture<EventIngestTests.Factory>
{
    public sealed class Factory : EventsServiceFactory
    {

        public async Task<long> CountAsync(Guid orgId, string? where = null, object? parameters = null)
        {
            await using var db = TestDatabases.OpenDataSource(DatabaseName);
            await using var connection = await db.OpenConnectionAsync();
            var args = new DynamicParameters(parameters);
            args.Add("orgId", orgId);
            return await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM events WHERE org_id = @orgId {(where is null ? "" : "AND " + where)}", args);
        }
    }

    public static object Event(string path = "/home/ana/report.docx", string type = "file_opened", string? clientEventId = null, DateTimeOffset? at = null) =>
        new { type, occurredAt = (at ?? DateTimeOffset.UtcNow.AddMinutes(-1)).ToString("O"), path, tool = "word", durationMs = 1200, clientEventId };

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, Guid orgId, object body, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orgs/{orgId}/events") { Content = JsonContent.Create(body) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }

    private static async Task<JsonElement> CreatedAsync(HttpResponseMessage response)
    {
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task A_batch_is_stored_and_answered_with_the_counts_by_agents_and_members()
    {
        var (owner, orgId, agent, keyId) = await factory.OrgAsync();
        var path = $"/batch/{Guid.NewGuid()}/";

        var byAgent = await CreatedAsync(await PostAsync(agent, orgId, new { events = new[] { Event(path + "a.txt"), Event(path + "b.txt", "file_modified"), Event(path + "c.py", "script_run") } }));
        var byMember = await CreatedAsync(await PostAsync(owner.Client, orgId, new { events = new[] { Event(path + "d.txt", "tool_used") } }));

        Assert.Equal(3, byAgent.GetProperty("inserted").GetInt32());
        Assert.Equal(0, byAgent.GetProperty("duplicates").GetInt32());
        Assert.Equal(1, byMember.GetProperty("inserted").GetInt32());
        var page = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(path)}");
        var items = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(4, items.Count);
        var first = items.Single(i => i.GetProperty("path").GetString() == path + "a.txt");
        Assert.Equal("api_key", first.GetProperty("sourceType").GetString());
        Assert.Equal(keyId, first.GetProperty("sourceId").GetGuid());
        Assert.Equal("word", first.GetProperty("tool").GetString());
        Assert.Equal(1200, first.GetProperty("durationMs").GetInt64());
        var fromMember = items.Single(i => i.GetProperty("path").GetString() == path + "d.txt");
        Assert.Equal("user", fromMember.GetProperty("sourceType").GetString());
        Assert.Equal(owner.Id, fromMember.GetProperty("sourceId").GetGuid());
    }

    public static TheoryData<string, object, string> InvalidItems => new()
    {
        { "events[1].type", new { type = "file_renamed", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a" }, "unknown type" },
        { "events[1].occurredAt", new { type = "file_opened", path = "/a" }, "missing time" },
        { "events[1].occurredAt", new { type = "file_opened", occurredAt = "yesterday", path = "/a" }, "not a timestamp" },
        { "events[1].occurredAt", new { type = "file_opened", occurredAt = "2026-11-22T10:00:00", path = "/a" }, "no offset" },
        { "events[1].occurredAt", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.AddMinutes(6).ToString("O"), path = "/a" }, "future" },
        { "events[1].occurredAt", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.AddDays(-91).ToString("O"), path = "/a" }, "beyond retention" },
        { "events[1].path", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "" }, "empty path" },
        { "events[1].path", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = new string('p', 1025) }, "long path" },
        { "events[1].path", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a\u0000b" }, "NUL in path" },
        { "events[1].tool", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", tool = new string('t', 201) }, "long tool" },
        { "events[1].durationMs", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", durationMs = -1 }, "negative duration" },
        { "events[1].metadata", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", metadata = new[] { 1, 2 } }, "metadata not an object" },
        { "events[1].metadata", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", metadata = new { text = new string('m', 4100) } }, "metadata over 4 KiB" },
        { "events[1].metadata", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", metadata = new { text = "a\u0000b" } }, "NUL in metadata" },
        { "events[1].metadata.uploadIds[0]", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", metadata = new { uploadIds = new[] { "nope" } } }, "bad upload id" },
        { "events[1].metadata.uploadIds[0]", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", metadata = new { uploadIds = new[] { Guid.NewGuid() } } }, "unknown upload" },
        { "events[1].clientEventId", new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", clientEventId = new string('c', 129) }, "long client id" },
        { "events[1]", null!, "null item" },
    };

    [Theory]
    [MemberData(nameof(InvalidItems))]
    public async Task An_invalid_item_rejects_the_whole_batch_naming_its_index(string field, object invalid, string why)
    {
        var (_, orgId, agent, _) = await factory.OrgAsync();
        var path = $"/atomic/{Guid.NewGuid()}";

        var problem = await (await PostAsync(agent, orgId, new { events = new[] { Event(path), invalid } })).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{why}: {problem}");
        Assert.Equal(0, await factory.CountAsync(orgId, "path = @path", new { path }));
    }

    [Fact]
    public async Task Batch_size_body_size_and_malformed_bodies_are_4xx()
    {
        var (_, orgId, agent, _) = await factory.OrgAsync();
        foreach (var body in new object[] { new { }, new { events = Array.Empty<object>() }, new { events = Enumerable.Range(0, 1001).Select(i => Event($"/many/{i}")).ToArray() } })
        {
            var problem = await (await PostAsync(agent, orgId, body)).ProblemAsync(HttpStatusCode.BadRequest);
            Assert.True(problem.GetProperty("errors").TryGetProperty("events", out _));
        }
        var huge = new { events = new[] { new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/a", padding = new string('x', 9 * 1024 * 1024) } } };
        await (await PostAsync(agent, orgId, huge)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        var malformed = new StringContent("{\"events\": [", System.Text.Encoding.UTF8, "application/json");
        await (await agent.PostAsync($"/api/v1/orgs/{orgId}/events", malformed)).ProblemAsync(HttpStatusCode.BadRequest);
        var wrongShape = new StringContent("{\"events\": [{\"durationMs\": \"long\"}]}", System.Text.Encoding.UTF8, "application/json");
        await (await agent.PostAsync($"/api/v1/orgs/{orgId}/events", wrongShape)).ProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Events_may_reference_uploads_of_the_organization()
    {
        var (owner, orgId, agent, _) = await factory.OrgAsync();
        var upload = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/uploads/presign", new { fileName = "a.txt", contentType = "text/plain", sizeBytes = 3 });
        var uploadId = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("upload").GetProperty("id").GetGuid();
        var path = $"/with-upload/{Guid.NewGuid()}";

        var stored = await CreatedAsync(await PostAsync(agent, orgId, new { events = new[] { new { type = "file_created", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path, metadata = new { uploadIds = new[] { uploadId }, size = 3 } } } }));

        Assert.Equal(1, stored.GetProperty("inserted").GetInt32());
        var page = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(path)}");
        var metadata = page.GetProperty("items")[0].GetProperty("metadata");
        Assert.Equal(uploadId, metadata.GetProperty("uploadIds")[0].GetGuid());
        Assert.Equal(3, metadata.GetProperty("size").GetInt32());

        var stranger = await factory.SignUpAsync();
        var otherOrg = await stranger.CreateOrgAsync("Other");
        var foreign = await (await PostAsync(stranger.Client, otherOrg, new { events = new[] { new { type = "file_created", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path, metadata = new { uploadIds = new[] { uploadId } } } } })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(foreign.GetProperty("errors").TryGetProperty("events[0].metadata.uploadIds[0]", out _));
    }

    [Fact]
    public async Task Duplicates_within_a_batch_and_across_batches_are_stored_once_and_counted()
    {
        var (_, orgId, agent, _) = await factory.OrgAsync();
        var id = Guid.NewGuid().ToString();

        var first = await CreatedAsync(await PostAsync(agent, orgId, new { events = new[] { Event(clientEventId: id + "-1"), Event(clientEventId: id + "-1"), Event(clientEventId: id + "-2"), Event() } }));
        var second = await CreatedAsync(await PostAsync(agent, orgId, new { events = new[] { Event(clientEventId: id + "-2"), Event(clientEventId: id + "-3") } }));

        Assert.Equal((3, 1), (first.GetProperty("inserted").GetInt32(), first.GetProperty("duplicates").GetInt32()));
        Assert.Equal((1, 1), (second.GetProperty("inserted").GetInt32(), second.GetProperty("duplicates").GetInt32()));
        Assert.Equal(3, await factory.CountAsync(orgId, "client_event_id LIKE @prefix", new { prefix = id + "%" }));

        // The same client id from another source is another event.
        var (owner, _, _, _) = await factory.OrgAsync();
        var fromMember = await CreatedAsync(await PostAsync(owner.Client, orgId, new { events = new[] { Event(clientEventId: id + "-1") } }));
        Assert.Equal(1, fromMember.GetProperty("inserted").GetInt32());
    }

    [Fact]
    public async Task An_idempotency_key_replays_the_first_response_and_refuses_another_batch()
    {
        var (_, orgId, agent, _) = await factory.OrgAsync();
        var key = $"retry-{Guid.NewGuid()}";
        var path = $"/idempotent/{Guid.NewGuid()}";
        var batch = new { events = new[] { Event(path, at: DateTimeOffset.UtcNow.AddMinutes(-2)), Event(path, at: DateTimeOffset.UtcNow.AddMinutes(-3)) } };

        var first = await PostAsync(agent, orgId, batch, key);
        var replay = await PostAsync(agent, orgId, batch, key);

        Assert.Equal(await first.Content.ReadAsStringAsync(), await replay.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(2, await factory.CountAsync(orgId, "path = @path", new { path })); // no client ids: only the key prevents doubles

        var other = new { events = new[] { Event(path + "/other") } };
        await (await PostAsync(agent, orgId, other, key)).ProblemAsync(HttpStatusCode.UnprocessableEntity);
        await (await PostAsync(agent, orgId, other, "not a valid key")).ProblemAsync(HttpStatusCode.BadRequest);
        var (owner, _, _, _) = await factory.OrgAsync();
        await CreatedAsync(await PostAsync(owner.Client, orgId, other, key)); // keys are per caller
    }

    [Fact]
    public async Task Concurrent_requests_with_one_idempotency_key_store_the_batch_once()
    {
        var (_, orgId, agent, _) = await factory.OrgAsync();
        var key = $"twin-{Guid.NewGuid()}";
        var path = $"/twins/{Guid.NewGuid()}";
        var batch = new { events = Enumerable.Range(0, 200).Select(i => Event($"{path}/{i}")).ToArray() }; // no client ids

        var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PostAsync(agent, orgId, batch, key)));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Created, a.StatusCode));
        Assert.Equal(3, answers.Count(a => a.Headers.Contains("Idempotent-Replayed")));
        var bodies = await Task.WhenAll(answers.Select(a => a.Content.ReadAsStringAsync()));
        Assert.Single(bodies.Distinct());
        Assert.Equal(200, await factory.CountAsync(orgId, "path LIKE @p", new { p = path + "/%" }));
    }

    [Fact]
    public async Task Concurrent_identical_batches_store_each_event_once()
    {
        var (_, orgId, _, _) = await factory.OrgAsync();
        var (owner, _, _, _) = await factory.OrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId, "racing agent");
        var clients = new[] { factory.ClientWithApiKey(key), factory.ClientWithApiKey(key) };
        var prefix = Guid.NewGuid().ToString();
        var batch = new { events = Enumerable.Range(0, 300).Select(i => Event($"/race/{i}", clientEventId: $"{prefix}-{i}")).ToArray() };

        for (var round = 0; round < 3; round++)
        {
            var answers = await Task.WhenAll(clients.Select(c => PostAsync(c, orgId, batch)));
            var bodies = await Task.WhenAll(answers.Select(CreatedAsync));
            Assert.Equal(round == 0 ? 300 : 0, bodies.Sum(b => b.GetProperty("inserted").GetInt32()));
            Assert.Equal(round == 0 ? 300 : 600, bodies.Sum(b => b.GetProperty("duplicates").GetInt32()));
        }
        Assert.Equal(300, await factory.CountAsync(orgId, "client_event_id LIKE @p", new { p = prefix + "%" }));
    }

    [Fact]
    public async Task Tenancy_other_organizations_and_their_keys_get_404_and_viewers_cannot_ingest()
    {
        var (owner, orgId, _, _) = await factory.OrgAsync();
        var stranger = await factory.SignUpAsync();
        var otherOrg = await stranger.CreateOrgAsync("Elsewhere");
        var (_, foreignKey) = await stranger.CreateApiKeyAsync(otherOrg, "foreign agent");
        var batch = new { events = new[] { Event() } };

        await (await PostAsync(factory.ClientWithApiKey(foreignKey), orgId, batch)).ProblemAsync(HttpStatusCode.NotFound);
        await (await PostAsync(stranger.Client, orgId, batch)).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.Client.GetAsync($"/api/v1/orgs/{orgId}/events")).ProblemAsync(HttpStatusCode.NotFound);
        await (await factory.ClientWithApiKey(foreignKey).GetAsync($"/api/v1/orgs/{orgId}/events")).ProblemAsync(HttpStatusCode.Forbidden); // keys never read

        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        await (await PostAsync(viewer.Client, orgId, batch)).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await viewer.Client.GetAsync($"/api/v1/orgs/{orgId}/events")).StatusCode);
    }
}
