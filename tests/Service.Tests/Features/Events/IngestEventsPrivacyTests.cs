using Dapper;
using Service.Tests.Features.Privacy;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Events;

/// <summary>
/// Ingest and the events list under each organization's privacy policy: what is stored of a path, what is dropped,
/// what is removed from metadata; and that nothing a policy keeps out reaches any table, log line or audit row.
/// </summary>
public sealed class IngestEventsPrivacyTests(IngestEventsPrivacyTests.Factory factory) : IClassFixture<IngestEventsPrivacyTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        /// <summary>How many rows of any table of the database hold the text, in any column.</summary>
        public async Task<Dictionary<string, long>> RowsHoldingAsync(string text)
        {
            await using var db = TestDatabases.OpenDataSource(DatabaseName);
            await using var connection = await db.OpenConnectionAsync();
            var tables = await connection.QueryAsync<string>("SELECT tablename FROM pg_tables WHERE schemaname = 'public'");
            var found = new Dictionary<string, long>();
            foreach (var table in tables)
            {
                var count = await connection.ExecuteScalarAsync<long>($"SELECT count(*) FROM \"{table}\" t WHERE t::text ILIKE '%' || @text || '%'", new { text });
                if (count > 0) found[table] = count;
            }
            return found;
        }
    }

    private static object Event(string path, object? metadata = null, string? clientEventId = null) =>
        new { type = "file_modified", occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O"), path, tool = "editor", metadata, clientEventId };

    private static async Task<JsonElement> IngestAsync(HttpClient client, Guid orgId, object[] events, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orgs/{orgId}/events") { Content = JsonContent.Create(new { events }) };
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        var response = await client.SendAsync(request);
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<List<string>> PathsAsync(TestUser member, Guid orgId, string prefix)
    {
        var page = await member.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString(prefix)}");
        return page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("path").GetString()!).Order().ToList();
    }

    private async Task<(TestUser Owner, Guid OrgId, HttpClient Agent)> OrgWithPolicyAsync(object policy)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(UpdatePrivacyPolicyTests.Url(orgId), policy), HttpStatusCode.OK);
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        return (owner, orgId, factory.ClientWithApiKey(key));
    }

    [Fact]
    public async Task Keep_stores_paths_as_sent()
    {
        var (owner, orgId, agent) = await OrgWithPolicyAsync(UpdatePrivacyPolicyTests.Body("keep"));
        await IngestAsync(agent, orgId, [Event("/home/ana/proj/a.py"), Event("/home/ana/proj/b.py"), Event("/home/bo/proj/c.py")]);
        Assert.Equal(["/home/ana/proj/a.py", "/home/ana/proj/b.py"], await PathsAsync(owner, orgId, "/home/ana/proj/"));
    }

    [Fact]
    public async Task Home_stores_home_directories_as_a_tilde_and_a_prefix_asked_in_the_original_form_still_finds_them()
    {
        var (owner, orgId, agent) = await OrgWithPolicyAsync(UpdatePrivacyPolicyTests.Body("home"));
        var ana = "ana" + Guid.NewGuid().ToString("N")[..8];
        await IngestAsync(agent, orgId, [Event($"/home/{ana}/proj/a.py"), Event($@"C:\Users\{ana}\proj\b.py"), Event("/srv/proj/c.py")]);

        Assert.Equal(["~/proj/a.py", "~/proj/b.py"], await PathsAsync(owner, orgId, $"/home/{ana}/proj/"));
        Assert.Equal(["~/proj/a.py", "~/proj/b.py"], await PathsAsync(owner, orgId, "~/proj/"));
        Assert.Equal(["/srv/proj/c.py"], await PathsAsync(owner, orgId, "/srv/"));
        var page = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString($@"C:\Users\{ana}\proj\")}");
        Assert.Equal("~/proj/", page.GetProperty("storedPathPrefix").GetString());
        Assert.Empty(await factory.RowsHoldingAsync(ana));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Hash_dirs_stores_no_readable_directory_and_the_same_prefix_finds_the_same_events(bool hashFileNames)
    {
        var (owner, orgId, agent) = await OrgWithPolicyAsync(UpdatePrivacyPolicyTests.Body("hash_dirs", hashFileNames));
        var client = "client" + Guid.NewGuid().ToString("N")[..8];
        var budget = "budget" + Guid.NewGuid().ToString("N")[..8];
        await IngestAsync(agent, orgId, [Event($"/home/ana/{client}/plan.md"), Event($"/home/ana/{client}/{budget}.xlsx"), Event("/home/ana/other/notes.md")]);

        var found = await PathsAsync(owner, orgId, $"/home/ana/{client}/");
        Assert.Equal(2, found.Count);
        Assert.All(found, p => Assert.Matches(@"^/#[0-9a-f]{16}/#[0-9a-f]{16}/#[0-9a-f]{16}/", p));
        Assert.Equal(hashFileNames, !found.Any(p => p.EndsWith("/plan.md", StringComparison.Ordinal)));
        Assert.Single(found, p => p.EndsWith(".xlsx", StringComparison.Ordinal));
        // A stored directory works as a prefix too (it is not hashed twice).
        var directory = found[0][..(found[0].LastIndexOf('/') + 1)];
        Assert.Equal(found, await PathsAsync(owner, orgId, directory));
        Assert.Equal(3, (await PathsAsync(owner, orgId, "/home/ana/")).Count);
        Assert.Empty(await factory.RowsHoldingAsync(client));
        if (hashFileNames) Assert.Empty(await factory.RowsHoldingAsync(budget));
    }

    [Fact]
    public async Task Excluded_events_are_counted_and_leave_no_trace_and_metadata_secrets_are_removed_before_anything_is_stored()
    {
        var marker = Guid.NewGuid().ToString("N");
        var (owner, orgId, agent) = await OrgWithPolicyAsync(UpdatePrivacyPolicyTests.Body("home",
            excludeGlobs: ["**/.ssh/**", "**/*.pem", "**/private-zone/**"], dropMetadataKeys: ["password", "token", "api_key"]));
        var home = $"/home/ana{marker[..8]}";
        var events = new[]
        {
            Event($"{home}/.ssh/id_{marker}", clientEventId: $"ssh-{marker}"),
            Event($"/etc/tls/{marker}.pem"),
            Event($"/srv/private-zone/{marker}.md", new { note = marker }),
            Event($"{home}/proj/kept.py", new { branch = "main", password = $"pw-{marker}", nested = new { deeper = new[] { new { Api_Key = $"key-{marker}" } }, githubToken = $"tok-{marker}" } }),
        };

        var answer = await IngestAsync(agent, orgId, events, idempotencyKey: $"batch-{orgId}");
        var replay = await IngestAsync(agent, orgId, events, idempotencyKey: $"batch-{orgId}");

        Assert.Equal(1, answer.GetProperty("inserted").GetInt32());
        Assert.Equal(0, answer.GetProperty("duplicates").GetInt32());
        Assert.Equal(3, answer.GetProperty("excluded").GetInt32());
        Assert.Equal(answer.ToString(), replay.ToString());
        var page = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events");
        var stored = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal("~/proj/kept.py", stored.GetProperty("path").GetString());
        var metadata = stored.GetProperty("metadata");
        Assert.Equal("main", metadata.GetProperty("branch").GetString());
        Assert.False(metadata.TryGetProperty("password", out _));
        Assert.Equal(JsonValueKind.Object, metadata.GetProperty("nested").GetProperty("deeper")[0].ValueKind);
        Assert.False(metadata.GetProperty("nested").TryGetProperty("githubToken", out _));

        // Not in any table (events, idempotency records, audit, pattern data...), not in any log line.
        Assert.Empty(await factory.RowsHoldingAsync(marker));
        Assert.Empty(await factory.RowsHoldingAsync(home));
        Assert.DoesNotContain(factory.Logs.Lines, l => l.AllText.Contains(marker[..8], StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_path_that_hashing_would_make_too_long_for_the_index_is_refused_as_bad_input()
    {
        var (_, orgId, agent) = await OrgWithPolicyAsync(UpdatePrivacyPolicyTests.Body("hash_dirs"));
        var deep = string.Concat(Enumerable.Repeat("/a", 500)) + "/file.txt";
        var response = await agent.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new { events = new[] { Event("/fine/one.txt"), Event(deep) } });
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("events[1].path", out _));
    }

    [Fact]
    public async Task A_policy_change_applies_to_events_received_after_it_and_events_stored_before_keep_their_form()
    {
        var (owner, orgId, agent) = await OrgWithPolicyAsync(UpdatePrivacyPolicyTests.Body("keep"));
        await IngestAsync(agent, orgId, [Event("/home/ana/before.txt")]);
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(UpdatePrivacyPolicyTests.Url(orgId), UpdatePrivacyPolicyTests.Body("home")), HttpStatusCode.OK);
        await IngestAsync(agent, orgId, [Event("/home/ana/after.txt")]);

        var page = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events");
        Assert.Equal(["/home/ana/before.txt", "~/after.txt"], page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("path").GetString()!).Order().ToArray());
    }

    [Fact]
    public async Task An_organization_without_a_policy_still_drops_key_files_and_secrets_by_default()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        var answer = await IngestAsync(factory.ClientWithApiKey(key), orgId,
            [Event("/home/ana/.ssh/id_ed25519"), Event("/srv/app/.env"), Event("/srv/app/main.go", new { token = "t-1", lines = 3 })]);
        Assert.Equal(1, answer.GetProperty("inserted").GetInt32());
        Assert.Equal(2, answer.GetProperty("excluded").GetInt32());
        var stored = (await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events")).GetProperty("items")[0];
        Assert.Equal("/srv/app/main.go", stored.GetProperty("path").GetString());
        Assert.False(stored.GetProperty("metadata").TryGetProperty("token", out _));
    }
}
