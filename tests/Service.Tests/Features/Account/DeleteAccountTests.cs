using System.Text;
using Dapper;
using Service.Tests.Features.Privacy;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Account;

/// <summary>Account deletion: the password rules, the last-owner rule under concurrency, what goes and what stays, and a retry after a failure halfway.</summary>
public sealed class DeleteAccountTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static Task<HttpResponseMessage> DeleteAsync(HttpClient client, string? password)
    {
        var request = new HttpRequestMessage(HttpMethod.Delete, "/api/v1/account");
        if (password is not null) request.Content = JsonContent.Create(new { password });
        return client.SendAsync(request);
    }

    private async Task<T> ScalarAsync<T>(string sql, object parameters)
    {
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    private static async Task IngestAsync(HttpClient client, Guid orgId, params string[] paths) =>
        await Identity.EnsureAsync(await client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new
        {
            events = paths.Select((path, i) => new
            {
                type = "file_modified", occurredAt = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("O"), path, metadata = new { branch = "main" }, clientEventId = $"c{i}",
            }),
        }), HttpStatusCode.Created);

    [Fact]
    public async Task Without_the_password_401_with_a_wrong_one_403_counted_like_a_failed_sign_in_until_the_account_locks()
    {
        var ana = await factory.SignUpAsync();
        await (await DeleteAsync(ana.Client, null)).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await DeleteAsync(ana.Client, "")).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await ana.Client.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/api/v1/account") { Content = new StringContent("{\"password\":", Encoding.UTF8, "application/json") }))
            .ProblemAsync(HttpStatusCode.BadRequest);
        await (await DeleteAsync(ana.Client, "not my password")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(1, await ScalarAsync<int>("SELECT failed_login_count FROM users WHERE id = @Id", new { ana.Id }));
        for (var i = 0; i < 4; i++) await (await DeleteAsync(ana.Client, "still wrong")).ProblemAsync(HttpStatusCode.Forbidden);

        // Locked now: the right password is refused too, here and at sign-in.
        await (await DeleteAsync(ana.Client, Identity.Password)).ProblemAsync(HttpStatusCode.Forbidden);
        var login = await factory.CreateClient().PostAsJsonAsync("/api/v1/auth/login", new { email = ana.Email, password = Identity.Password });
        await login.ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM audit_log WHERE action = 'auth.account_locked' AND target_id = @Id", new { Id = ana.Id.ToString() }));
        Assert.Null(await ScalarAsync<DateTime?>("SELECT deleted_at FROM users WHERE id = @Id", new { ana.Id }));
    }

    [Fact]
    public async Task The_last_owner_is_refused_with_the_organizations_named_until_someone_else_owns_them()
    {
        var ana = await factory.SignUpAsync();
        var bo = await factory.SignUpAsync();
        var solo = await ana.CreateOrgAsync("Solo works");
        var team = await ana.CreateOrgAsync("Team works");
        await ana.AddMemberAsync(team, bo, "admin");

        var refused = await (await DeleteAsync(ana.Client, Identity.Password)).ProblemAsync(HttpStatusCode.Conflict);
        Assert.Contains("Solo works", refused.GetProperty("detail").GetString());
        Assert.Equal(new[] { solo, team }.Order(), refused.GetProperty("organizations").EnumerateArray().Select(o => o.GetProperty("id").GetGuid()).Order());

        await Identity.EnsureAsync(await ana.Client.PatchAsJsonAsync($"/api/v1/orgs/{team}/members/{bo.Id}", new { role = "owner" }), HttpStatusCode.OK);
        await Identity.EnsureAsync(await ana.Client.DeleteAsync($"/api/v1/orgs/{solo}"), HttpStatusCode.NoContent);
        await Identity.EnsureAsync(await DeleteAsync(ana.Client, Identity.Password), HttpStatusCode.NoContent);
        Assert.Equal(["owner"], (await bo.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{team}/members")).GetProperty("items").EnumerateArray()
            .Select(m => m.GetProperty("role").GetString()!).ToArray());
    }

    [Fact]
    public async Task Two_owners_deleting_their_accounts_at_once_leave_one_of_them_owner()
    {
        for (var round = 0; round < 3; round++)
        {
            var ana = await factory.SignUpAsync();
            var bo = await factory.SignUpAsync();
            var orgId = await ana.CreateOrgAsync("Two owners");
            await ana.AddMemberAsync(orgId, bo, "owner");

            var answers = await Task.WhenAll(DeleteAsync(ana.Client, Identity.Password), DeleteAsync(bo.Client, Identity.Password));

            Assert.Equal([HttpStatusCode.NoContent, HttpStatusCode.Conflict], answers.Select(a => a.StatusCode).Order().ToArray());
            Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM memberships WHERE org_id = @orgId AND role = 'owner'", new { orgId }));
        }
    }

    [Fact]
    public async Task A_member_added_while_the_account_is_being_deleted_never_stays_a_member_of_a_deleted_account()
    {
        for (var round = 0; round < 5; round++)
        {
            var ana = await factory.SignUpAsync();
            var owner = await factory.SignUpAsync();
            var existing = await owner.CreateOrgAsync("Existing");
            var joining = await owner.CreateOrgAsync("Joining");
            await owner.AddMemberAsync(existing, ana, "member");

            var deleting = DeleteAsync(ana.Client, Identity.Password);
            var adding = owner.Client.PostAsJsonAsync($"/api/v1/orgs/{joining}/members", new { email = ana.Email, role = "member" });
            var (deleted, added) = (await deleting, await adding);

            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
            Assert.Contains(added.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.NotFound });
            Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM memberships WHERE user_id = @Id", new { ana.Id }));
        }
    }

    [Fact]
    public async Task Deleting_removes_what_is_personal_handles_events_per_organization_policy_and_frees_the_email()
    {
        var ana = await factory.SignUpAsync();
        var owner = await factory.SignUpAsync();
        var deleting = await owner.CreateOrgAsync("Deletes");
        var anonymizing = await owner.CreateOrgAsync("Anonymizes");
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(UpdatePrivacyPolicyTests.Url(anonymizing),
            UpdatePrivacyPolicyTests.Body("keep", departedUserEvents: "anonymize")), HttpStatusCode.OK);
        await owner.AddMemberAsync(deleting, ana, "member");
        await owner.AddMemberAsync(anonymizing, ana, "member");
        await IngestAsync(ana.Client, deleting, "/home/ana/a.txt", "/home/ana/b.txt");
        await IngestAsync(ana.Client, anonymizing, "/home/ana/proj/c.txt", @"C:\Users\ana\proj\d.txt");
        await IngestAsync(owner.Client, deleting, "/home/owner/e.txt");

        await Identity.EnsureAsync(await DeleteAsync(ana.Client, Identity.Password), HttpStatusCode.NoContent);

        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM events WHERE source_id = @Id", new { ana.Id }));
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM events WHERE org_id = @deleting", new { deleting }));
        var kept = (await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{anonymizing}/events")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["~/proj/c.txt", "~/proj/d.txt"], kept.Select(e => e.GetProperty("path").GetString()!).Order().ToArray());
        Assert.All(kept, e =>
        {
            Assert.NotEqual(ana.Id, e.GetProperty("sourceId").GetGuid());
            Assert.Equal(JsonValueKind.Null, e.GetProperty("clientEventId").ValueKind);
            Assert.Equal(JsonValueKind.Null, e.GetProperty("metadata").ValueKind);
        });
        Assert.Single(kept.Select(e => e.GetProperty("sourceId").GetGuid()).Distinct());

        foreach (var table in new[] { "memberships", "refresh_tokens", "notifications", "stream_events" })
        {
            Assert.Equal(0, await ScalarAsync<long>($"SELECT count(*) FROM {table} WHERE user_id = @Id", new { ana.Id }));
        }
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM users u WHERE id = @Id AND (u::text LIKE '%' || @Email || '%' OR display_name <> '' OR password_hash <> '')",
            new { ana.Id, ana.Email }));
        var audit = await ScalarAsync<string>("SELECT data::text FROM audit_log WHERE action = 'account.deleted' AND actor_id = @Id", new { Id = ana.Id.ToString() });
        Assert.DoesNotContain(ana.Email, audit);
        Assert.Contains("anonymize", audit);

        // The old session is dead, the email is free.
        await (await ana.Client.GetAsync("/api/v1/auth/me")).ProblemAsync(HttpStatusCode.NotFound);
        await (await ana.Client.GetAsync("/api/v1/account/export")).ProblemAsync(HttpStatusCode.NotFound);
        await (await ana.Client.GetAsync($"/api/v1/orgs/{deleting}/events")).ProblemAsync(HttpStatusCode.NotFound);
        await (await factory.CreateClient().PostAsJsonAsync("/api/v1/auth/refresh", new { refreshToken = ana.RefreshToken })).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await factory.CreateClient().PostAsJsonAsync("/api/v1/auth/login", new { email = ana.Email, password = Identity.Password })).ProblemAsync(HttpStatusCode.Unauthorized);
        var again = await factory.SignUpAsync(ana.Email);
        Assert.NotEqual(ana.Id, again.Id);
    }

    [Fact]
    public async Task A_failure_halfway_leaves_a_state_that_the_next_attempt_completes()
    {
        var ana = await factory.SignUpAsync();
        var owner = await factory.SignUpAsync();
        var first = await owner.CreateOrgAsync("First");
        var second = await owner.CreateOrgAsync("Second");
        await owner.AddMemberAsync(first, ana, "member");
        await owner.AddMemberAsync(second, ana, "member");
        await IngestAsync(ana.Client, first, "/one.txt");
        await IngestAsync(ana.Client, second, "/two.txt");
        var (done, failing) = first.CompareTo(second) < 0 ? (first, second) : (second, first); // organizations are handled in id order
        var trigger = $"halfway_{Guid.NewGuid():N}";
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await db.CreateCommand($"""
            CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the database went away'; END $$;
            CREATE TRIGGER {trigger} BEFORE DELETE ON memberships FOR EACH ROW WHEN (OLD.org_id = '{failing}') EXECUTE FUNCTION {trigger}();
            """).ExecuteNonQueryAsync();

        var broken = await DeleteAsync(ana.Client, Identity.Password);
        await db.CreateCommand($"DROP TRIGGER {trigger} ON memberships; DROP FUNCTION {trigger}();").ExecuteNonQueryAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, broken.StatusCode);
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM memberships WHERE org_id = @done AND user_id = @Id", new { done, ana.Id }));
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM memberships WHERE org_id = @failing AND user_id = @Id", new { failing, ana.Id }));
        Assert.Equal(1, await ScalarAsync<long>("SELECT count(*) FROM events WHERE org_id = @failing AND source_id = @Id", new { failing, ana.Id }));
        Assert.Null(await ScalarAsync<DateTime?>("SELECT deleted_at FROM users WHERE id = @Id", new { ana.Id }));

        await Identity.EnsureAsync(await DeleteAsync(ana.Client, Identity.Password), HttpStatusCode.NoContent);
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM memberships WHERE user_id = @Id", new { ana.Id }));
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM events WHERE source_id = @Id", new { ana.Id }));
        Assert.NotNull(await ScalarAsync<DateTime?>("SELECT deleted_at FROM users WHERE id = @Id", new { ana.Id }));
    }
}
