using Service.Tests.Fixtures;

namespace Service.Tests.Features.LiveStream;

/// <summary>A stream is one request to the limiter and nothing to readiness, however long it stays open.</summary>
public sealed class StreamRateLimitTests(StreamRateLimitTests.Factory factory) : IClassFixture<StreamRateLimitTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["RateLimits:PerMinute"] = "5";
            Settings["RateLimits:PerHour"] = "100";
            Settings["Stream:HeartbeatSeconds"] = "1";
        }
    }

    private static int Remaining(HttpResponseMessage response) => int.Parse(response.Headers.GetValues("X-RateLimit-Remaining").Single());

    [Fact]
    public async Task Open_streams_count_once_when_they_open_and_leave_readiness_alone()
    {
        var user = await factory.SignUpAsync(); // register and login: the auth policy, not this one
        var streams = new List<SseClient>();
        for (var i = 0; i < 3; i++) streams.Add(await SseClient.OpenAsync(user.Client));
        try
        {
            var first = await user.Client.GetAsync("/api/v1/notifications/unread-count");
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            Assert.Equal(1, Remaining(first)); // 5 - 3 streams - this request

            await Task.Delay(TimeSpan.FromSeconds(2.5)); // streams open, heartbeats flowing
            Assert.All(streams, s => Assert.True(s.Comments >= 1, "no heartbeat arrived"));
            var second = await user.Client.GetAsync("/api/v1/notifications/unread-count");
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
            Assert.Equal(0, Remaining(second));
            await (await user.Client.GetAsync("/api/v1/notifications/unread-count")).ProblemAsync(HttpStatusCode.TooManyRequests);

            var ready = await factory.CreateClient().GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("Healthy", (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

            // Refused requests do not touch open streams: they still carry what happens.
            var ids = await factory.NotifyAsync(user.Id);
            foreach (var stream in streams) Assert.Equal(ids[0], (await stream.NextAsync(TimeSpan.FromSeconds(5))).Number);
        }
        finally
        {
            foreach (var stream in streams) await stream.DisposeAsync();
        }
    }
}
