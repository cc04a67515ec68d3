using System.Diagnostics;
using System.Net.Http.Headers;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Streaming;

/// <summary>
/// Several instances behave as one stream: what one instance commits reaches a client streaming from another, a
/// Redis outage delays nothing for good, and an instance that stops hands its clients over without loss.
/// </summary>
public sealed class StreamScaleOutTests(StreamScaleOutTests.Factory factory) : IClassFixture<StreamScaleOutTests.Factory>
{
    private static readonly TimeSpan Soon = TimeSpan.FromSeconds(10);

    public sealed class Factory : ServiceFactory
    {
        public LocalServer Redis { get; } = LocalServer.Redis();

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await Redis.StartAsync();
            Settings["Redis:Url"] = $"redis://127.0.0.1:{Redis.Port}";
            Settings["Stream:CatchUpSeconds"] = "2";
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await Redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_notification_committed_on_one_instance_reaches_a_stream_on_another_within_a_second()
    {
        var user = await factory.SignUpAsync();
        await using var other = await factory.AnotherInstanceAsync();
        await using var stream = await SseClient.OpenAsync(other.ClientWithToken(user.AccessToken));

        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 20; i++)
        {
            var watch = Stopwatch.StartNew();
            var ids = await factory.NotifyAsync(user.Id);
            var e = await stream.NextAsync(Soon);
            watch.Stop();
            Assert.Equal(ids[0], e.Number);
            if (watch.Elapsed > slowest) slowest = watch.Elapsed;
        }
        Assert.True(slowest < TimeSpan.FromSeconds(1), $"slowest create-to-receive took {slowest.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Notifications_created_while_Redis_is_down_all_arrive_once_and_readiness_says_Degraded()
    {
        var user = await factory.SignUpAsync();
        await using var other = await factory.AnotherInstanceAsync();
        await using var stream = await SseClient.OpenAsync(other.ClientWithToken(user.AccessToken));

        await factory.Redis.StopAsync();
        List<long> created;
        try
        {
            created = await factory.NotifyAsync(user.Id, count: 10);
            var ready = await other.CreateClient().GetAsync("/health/ready");
            var report = await ready.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Degraded", report.GetProperty("status").GetString());
        }
        finally
        {
            await factory.Redis.StartAsync();
        }
        created.AddRange(await factory.NotifyAsync(user.Id, count: 2));

        var received = await stream.TakeAsync("notification.created", 12, TimeSpan.FromSeconds(30));
        Assert.Equal(created, received.Select(e => e.Number));
        await stream.AssertQuietAsync(TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task SIGTERM_closes_streams_and_the_client_resumes_on_the_other_instance_without_loss()
    {
        var user = await factory.SignUpAsync();
        var environment = factory.BaseSettings();
        foreach (var (key, value) in factory.Settings) environment[key] = value;
        environment = environment.ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value);
        environment["ENVIRONMENT"] = "development";
        var (doomed, url) = await ServiceProcess.StartListeningAsync(environment.ToDictionary(kv => kv.Key, kv => kv.Value ?? ""), TimeSpan.FromSeconds(60));
        await using var stopped = doomed;
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.AccessToken);

        var stream = await SseClient.OpenAsync(http);
        var startedAt = stream.Received[0].Number;
        using var stop = new CancellationTokenSource();
        var producing = Task.Run(async () =>
        {
            var made = new List<long>();
            while (!stop.IsCancellationRequested) made.AddRange(await factory.NotifyAsync(user.Id, count: 2));
            return made;
        });
        var received = new List<long>((await stream.TakeAsync("notification.created", 5, Soon)).Select(e => e.Number));

        var watch = Stopwatch.StartNew();
        doomed.Terminate();
        SseEvent closed;
        while ((closed = await stream.NextAsync(Soon)).Type == "notification.created") received.Add(closed.Number);
        Assert.Equal("stream.closed", closed.Type);
        Assert.Equal("shutdown", closed.Json.GetProperty("reason").GetString());
        await stream.Ended.WaitAsync(Soon);
        Assert.Equal(0, await doomed.WaitForExitAsync(Soon));
        watch.Stop();
        await stream.DisposeAsync();

        // As EventSource does: reconnect (here, to the other instance) with the last id seen.
        await using var resumed = await SseClient.OpenAsync(factory.ClientWithToken(user.AccessToken), lastEventId: received[^1].ToString());
        await Task.Delay(500);
        stop.Cancel();
        var made = await producing;
        received.AddRange((await resumed.TakeAsync("notification.created", made.Count(id => id > received[^1]), Soon)).Select(e => e.Number));

        Assert.Equal(made.Where(id => id > startedAt), received);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"the instance took {watch.Elapsed.TotalSeconds:F1} s to stop with a stream open");
    }
}
