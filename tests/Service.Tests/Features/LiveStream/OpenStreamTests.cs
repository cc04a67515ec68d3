using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Streaming;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.LiveStream;

/// <summary>The live stream on one instance: what it carries, to whom, resuming, caps and bad input.</summary>
public sealed class OpenStreamTests(OpenStreamTests.Factory factory) : IClassFixture<OpenStreamTests.Factory>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(5);

    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Stream:ReplayMaxEvents"] = "20";
            Settings["Stream:HeartbeatSeconds"] = "1";
            Settings["Stream:MaxStreamsPerUser"] = "3";
            Settings["Stream:CatchUpSeconds"] = "1";
            Settings["Stream:RetryMilliseconds"] = "1500";
        }
    }

    [Fact]
    public async Task A_notification_arrives_as_an_event_whose_id_is_the_notification_id()
    {
        var user = await factory.SignUpAsync();
        var earlier = await factory.NotifyAsync(user.Id, count: 2);
        await using var stream = await SseClient.OpenAsync(user.Client);
        Assert.Equal(earlier[^1].ToString(), stream.Received[0].Id); // stream.open: the position it starts from
        Assert.Equal(earlier[^1], stream.Received[0].Json.GetProperty("position").GetInt64());

        var ids = await factory.NotifyAsync(user.Id, type: "test.live");

        var e = await stream.NextAsync(Soon);
        Assert.Equal("notification.created", e.Type);
        Assert.Equal(ids[0], e.Number);
        Assert.Equal(ids[0], e.Json.GetProperty("id").GetInt64());
        Assert.Equal("test.live", e.Json.GetProperty("type").GetString());
        Assert.Equal("text/event-stream", stream.Response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", stream.Response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task The_stream_sends_the_retry_hint_and_comment_heartbeats()
    {
        var user = await factory.SignUpAsync();
        var response = await user.Client.GetAsync("/api/v1/stream", HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("retry: 1500", await reader.ReadLineAsync());
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(Soon);
        while (!lines.Contains(": heartbeat")) lines.Add((await reader.ReadLineAsync(timeout.Token))!);
    }

    [Fact]
    public async Task Resuming_with_Last_Event_ID_replays_exactly_what_was_missed_then_goes_on_live()
    {
        var user = await factory.SignUpAsync();
        string lastSeen;
        await using (var first = await SseClient.OpenAsync(user.Client))
        {
            await factory.NotifyAsync(user.Id, count: 3);
            await first.TakeAsync("notification.created", 3, Soon);
            lastSeen = first.LastEventId!;
        }
        var missed = await factory.NotifyAsync(user.Id, count: 4);

        await using var resumed = await SseClient.OpenAsync(user.Client, lastEventId: lastSeen);
        Assert.True(resumed.Received[0].Json.GetProperty("resumed").GetBoolean());
        var replayed = await resumed.TakeAsync("notification.created", 4, Soon);
        Assert.Equal(missed, replayed.Select(e => e.Number));
        var live = await factory.NotifyAsync(user.Id, count: 2);
        Assert.Equal(live, (await resumed.TakeAsync("notification.created", 2, Soon)).Select(e => e.Number));
        await resumed.AssertQuietAsync(TimeSpan.FromMilliseconds(1500));

        // A new EventSource cannot set the header: the same resume point as a query parameter.
        await using var viaQuery = await SseClient.OpenAsync(user.Client, $"/api/v1/stream?lastEventId={lastSeen}");
        Assert.Equal(missed.Concat(live), (await viaQuery.TakeAsync("notification.created", 6, Soon)).Select(e => e.Number));
    }

    [Fact]
    public async Task Reconnecting_while_events_keep_coming_loses_and_repeats_nothing()
    {
        var user = await factory.SignUpAsync();
        using var stop = new CancellationTokenSource();
        var producing = Task.Run(async () =>
        {
            var made = new List<long>();
            while (!stop.IsCancellationRequested) made.AddRange(await factory.NotifyAsync(user.Id, count: 3));
            return made;
        });
        var received = new List<long>();
        string? position = null;
        long? startedAt = null;
        for (var round = 0; round < 6; round++)
        {
            await using var stream = await SseClient.OpenAsync(user.Client, lastEventId: position);
            startedAt ??= stream.Received[0].Number;
            position ??= stream.Received[0].Id;
            // Whatever arrives within 300 ms, then hang up mid-flow.
            var until = DateTime.UtcNow.AddMilliseconds(300);
            while (DateTime.UtcNow < until)
            {
                try { received.Add((await stream.NextAsync(TimeSpan.FromMilliseconds(100))).Number); }
                catch (TimeoutException) { }
            }
            if (received.Count > 0) position = received[^1].ToString();
        }
        stop.Cancel();
        var made = await producing;
        await using (var last = await SseClient.OpenAsync(user.Client, lastEventId: position))
        {
            var rest = made.Where(id => id > long.Parse(position!)).ToList();
            received.AddRange((await last.TakeAsync("notification.created", rest.Count, Soon)).Select(e => e.Number));
        }
        Assert.Equal(made.Where(id => id > startedAt), received);
        Assert.True(received.Count > 10, $"only {received.Count} events made it: the test proved little");
    }

    [Fact]
    public async Task Missing_more_than_the_replay_bound_gives_a_reset_and_then_live_events()
    {
        var user = await factory.SignUpAsync();
        var first = await factory.NotifyAsync(user.Id);
        var missed = await factory.NotifyAsync(user.Id, count: 21);

        await using var stream = await SseClient.OpenAsync(user.Client, lastEventId: first[0].ToString());
        var reset = await stream.NextAsync(Soon);
        Assert.Equal("stream.reset", reset.Type);
        Assert.Equal("too_many_missed", reset.Json.GetProperty("reason").GetString());
        Assert.Equal(missed[^1], reset.Number);
        var live = await factory.NotifyAsync(user.Id);
        Assert.Equal(live[0], (await stream.NextAsync(Soon)).Number);
    }

    [Fact]
    public async Task Events_older_than_the_replay_window_give_a_reset()
    {
        var user = await factory.SignUpAsync();
        var first = await factory.NotifyAsync(user.Id);
        await factory.NotifyAsync(user.Id, count: 2);
        await using (var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName))
        await using (var age = dataSource.CreateCommand("UPDATE stream_events SET created_at = now() - interval '25 hours' WHERE user_id = $1"))
        {
            age.Parameters.Add(new NpgsqlParameter { Value = user.Id });
            await age.ExecuteNonQueryAsync();
        }
        await using var stream = await SseClient.OpenAsync(user.Client, lastEventId: first[0].ToString());
        Assert.Equal("too_old", (await stream.NextAsync(Soon)).Json.GetProperty("reason").GetString());
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("99999999999999999999999")]
    public async Task A_malformed_Last_Event_ID_is_a_400(string value)
    {
        var user = await factory.SignUpAsync();
        var (stream, response) = await SseClient.TryOpenAsync(user.Client, lastEventId: value);
        Assert.Null(stream);
        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest);
        Assert.Contains("Last-Event-ID", problem.GetProperty("title").GetString());
        (_, response) = await SseClient.TryOpenAsync(user.Client, $"/api/v1/stream?lastEventId={value}");
        await response.ProblemAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_position_from_the_future_resets_to_now()
    {
        var user = await factory.SignUpAsync();
        await using var stream = await SseClient.OpenAsync(user.Client, lastEventId: "500");
        Assert.Equal("unknown_position", (await stream.NextAsync(Soon)).Json.GetProperty("reason").GetString());
    }

    [Fact]
    public async Task A_user_never_sees_another_users_events()
    {
        var alice = await factory.SignUpAsync();
        var bob = await factory.SignUpAsync();
        await using var bobs = await SseClient.OpenAsync(bob.Client);
        await using var alices = await SseClient.OpenAsync(alice.Client);
        await factory.NotifyAsync(alice.Id, count: 3);
        await alices.TakeAsync("notification.created", 3, Soon);
        await bobs.AssertQuietAsync(TimeSpan.FromMilliseconds(1500));
        // Bob cannot resume into Alice's numbers either: his own stream has none.
        await using var probing = await SseClient.OpenAsync(bob.Client, lastEventId: "0");
        await probing.AssertQuietAsync(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task An_organizations_events_reach_its_members_and_stop_when_one_is_removed()
    {
        var owner = await factory.SignUpAsync();
        var member = await factory.SignUpAsync();
        var outsider = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, member, "member");
        await using var owners = await SseClient.OpenAsync(owner.Client);
        await using var members = await SseClient.OpenAsync(member.Client);
        await using var outsiders = await SseClient.OpenAsync(outsider.Client);

        await Identity.EnsureAsync(await factory.CreateClient().PostAsync($"/test/orgs/{orgId}/org-event", null), HttpStatusCode.OK);
        Assert.Equal(orgId, (await owners.NextAsync(Soon)).Json.GetProperty("orgId").GetGuid());
        Assert.Equal("run.updated", (await members.NextAsync(Soon)).Type);

        await Identity.EnsureAsync(await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/members/{member.Id}"), HttpStatusCode.NoContent);
        var removed = await members.NextAsync(Soon);
        Assert.Equal("membership.removed", removed.Json.GetProperty("type").GetString());
        await Identity.EnsureAsync(await factory.CreateClient().PostAsync($"/test/orgs/{orgId}/org-event", null), HttpStatusCode.OK);
        Assert.Equal("run.updated", (await owners.NextAsync(Soon)).Type);
        await members.AssertQuietAsync(TimeSpan.FromMilliseconds(1500));
        await outsiders.AssertQuietAsync(TimeSpan.Zero);

        // Nor does a replay bring back what the org sent while they belonged to it.
        await using var replay = await SseClient.OpenAsync(member.Client, lastEventId: "0");
        var replayed = await replay.TakeAsync("notification.created", 2, Soon);
        await replay.AssertQuietAsync(TimeSpan.FromMilliseconds(500));
        Assert.DoesNotContain(replay.Received, e => e.Type == "run.updated");
    }

    [Fact]
    public async Task The_next_stream_past_the_cap_is_429_and_closing_one_frees_a_slot()
    {
        var user = await factory.SignUpAsync();
        var open = new List<SseClient>();
        for (var i = 0; i < 3; i++) open.Add(await SseClient.OpenAsync(user.Client));
        var (refused, response) = await SseClient.TryOpenAsync(user.Client);
        Assert.Null(refused);
        var problem = await response.ProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Contains("3", problem.GetProperty("detail").GetString());
        // When the first slot lapses unless its stream renews it: three heartbeats at most.
        Assert.InRange(response.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 3 * factory.Services.GetRequiredService<IOptions<StreamOptions>>().Value.HeartbeatSeconds);

        await open[0].DisposeAsync();
        var deadline = DateTime.UtcNow + Soon;
        SseClient? again = null;
        while (again is null && DateTime.UtcNow < deadline)
        {
            (again, _) = await SseClient.TryOpenAsync(user.Client);
            if (again is null) await Task.Delay(100);
        }
        Assert.NotNull(again);
        open.Add(again);
        foreach (var stream in open.Skip(1)) await stream.DisposeAsync();
        // Another user is not affected by this one's streams.
        await using var other = await SseClient.OpenAsync((await factory.SignUpAsync()).Client);
    }

    [Fact]
    public async Task A_lost_announcement_still_arrives_through_the_catch_up()
    {
        var user = await factory.SignUpAsync();
        await using var stream = await SseClient.OpenAsync(user.Client);
        var ids = await factory.NotifyAsync(user.Id, count: 2, publish: false); // committed, never announced
        Assert.Equal(ids, (await stream.TakeAsync("notification.created", 2, Soon)).Select(e => e.Number));
    }

    [Fact]
    public async Task Agent_keys_and_anonymous_callers_cannot_stream()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        await (await factory.CreateClient().GetAsync("/api/v1/stream")).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await factory.ClientWithApiKey(key).GetAsync("/api/v1/stream")).ProblemAsync(HttpStatusCode.Forbidden);
    }
}
