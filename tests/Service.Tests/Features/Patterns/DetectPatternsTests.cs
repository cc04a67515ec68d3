using Service.Tests.Fixtures;

namespace Service.Tests.Features.Patterns;

/// <summary>POST .../patterns/detect answers 202 at once; the status it points to reaches succeeded, and the patterns are listed.</summary>
public sealed class DetectPatternsTests(OperatorServiceFactory factory) : IClassFixture<OperatorServiceFactory>
{
    [Fact]
    public async Task Detect_answers_202_with_a_status_to_poll_that_reaches_succeeded()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var member = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, member, "member");
        await factory.InsertEventsAsync(orgId, PatternSetup.SmallTeam().Generate());

        var response = await member.Client.PostAsync($"{PatternSetup.Patterns(orgId)}/detect", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var location = response.Headers.Location!.ToString();
        Assert.Equal($"/api/v1/orgs/{orgId}/patterns/detection", location);
        Assert.Contains((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString(), new[] { "queued", "running", "succeeded" });

        JsonElement status = default;
        await WebhookReceiver.WaitUntilAsync(() => (status = member.Client.GetFromJsonAsync<JsonElement>(location).Result).GetProperty("status").GetString() == "succeeded",
            TimeSpan.FromSeconds(30));
        var stats = status.GetProperty("stats");
        Assert.True(stats.GetProperty("eventsRead").GetInt32() > 0);
        Assert.True(stats.GetProperty("patterns").GetInt32() >= 3, status.ToString());
        Assert.NotEqual(JsonValueKind.Null, status.GetProperty("watermark").ValueKind);

        var patterns = await member.AllPatternsAsync(orgId);
        Assert.Equal(stats.GetProperty("patterns").GetInt32(), patterns.Count);
        var first = await member.Client.GetFromJsonAsync<JsonElement>($"{PatternSetup.Patterns(orgId)}/{patterns[0].GetProperty("id")}");
        Assert.InRange(first.GetProperty("examples").GetArrayLength(), 1, 5);
        Assert.True(first.GetProperty("lift").GetDouble() > 1);
        Assert.True(first.GetProperty("firstSeenAt").GetDateTimeOffset() <= first.GetProperty("lastSeenAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task A_request_made_while_a_run_is_under_way_gets_a_run_of_its_own_that_reads_what_the_first_could_not()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await factory.DetectAsync(orgId);
        var detection = factory.Services.GetRequiredService<Service.Infrastructure.Patterns.PatternDetection>();
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);

        // Hold the organization's status row: a run that starts now stops there, just after taking its lock.
        await using var holder = await db.OpenConnectionAsync();
        await using var held = await holder.BeginTransactionAsync();
        await new Npgsql.NpgsqlCommand($"SELECT 1 FROM pattern_state WHERE org_id = '{orgId}' FOR UPDATE", holder, held).ExecuteNonQueryAsync();
        var first = detection.RunAsync(orgId, CancellationToken.None);
        await WebhookReceiver.WaitUntilAsync(() => Count(db,
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO pattern_state%'") > 0, TimeSpan.FromSeconds(10));
        // Meanwhile events arrive and a client asks for detection (as POST .../detect does, a moment after the run began).
        await PatternGenerator.CopyAsync(db, orgId, PatternSetup.SmallTeam().Generate());
        await new Npgsql.NpgsqlCommand($"UPDATE pattern_state SET requested_at = clock_timestamp() WHERE org_id = '{orgId}'", holder, held).ExecuteNonQueryAsync();
        await held.CommitAsync();
        var stats = await first;
        Assert.Equal(0, stats!.EventsRead); // its snapshot began before the events

        JsonElement status = default;
        await WebhookReceiver.WaitUntilAsync(() => (status = owner.Client.GetFromJsonAsync<JsonElement>($"{PatternSetup.Patterns(orgId)}/detection").Result)
            is var s && s.GetProperty("status").GetString() == "succeeded" && s.GetProperty("stats").GetProperty("eventsRead").GetInt32() > 0, TimeSpan.FromSeconds(20));
    }

    private static long Count(Npgsql.NpgsqlDataSource db, string sql) => Convert.ToInt64(db.CreateCommand(sql).ExecuteScalar());

    [Fact]
    public async Task Viewers_read_but_cannot_ask_for_detection_and_other_organizations_see_nothing()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        var stranger = await factory.SignUpAsync();

        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.Client.PostAsync($"{PatternSetup.Patterns(orgId)}/detect", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewer.Client.GetAsync($"{PatternSetup.Patterns(orgId)}/detection")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Client.GetAsync(PatternSetup.Patterns(orgId))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.Client.PostAsync($"{PatternSetup.Patterns(orgId)}/detect", null)).StatusCode);
    }

    [Fact]
    public async Task Turning_the_Suggestions_flag_off_hides_the_routes_and_stops_detection()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var ops = await factory.OperatorAsync();
        await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/Suggestions", new { enabled = false, reason = "detector overload" }), HttpStatusCode.OK);
        try
        {
            await factory.InsertEventsAsync(orgId, PatternSetup.SmallTeam().Generate());
            // A release flag turned off hides the feature: 404, as if it did not exist.
            await (await owner.Client.GetAsync(PatternSetup.Suggestions(orgId))).ProblemAsync(HttpStatusCode.NotFound);
            await (await owner.Client.PostAsync($"{PatternSetup.Patterns(orgId)}/detect", null)).ProblemAsync(HttpStatusCode.NotFound);
            // The detector does not run while the switch is off: the organization stays undetected.
            await Task.Delay(3000);
            await using var connection = await factory.Services.GetRequiredService<Npgsql.NpgsqlDataSource>().OpenConnectionAsync();
            Assert.Equal(0L, await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, "SELECT count(*) FROM pattern_sessions WHERE org_id = @orgId", new { orgId }));
        }
        finally
        {
            await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/Suggestions", new { enabled = true, reason = "recovered" }), HttpStatusCode.OK);
        }
        Assert.Equal(HttpStatusCode.Accepted, (await owner.Client.PostAsync($"{PatternSetup.Patterns(orgId)}/detect", null)).StatusCode);
        await WebhookReceiver.WaitUntilAsync(() => owner.SuggestionsAsync(orgId).Result.Count > 0, TimeSpan.FromSeconds(30));
    }
}
