using Service.Tests.Fixtures;

namespace Service.Tests.Features.LiveStream;

/// <summary>The LiveStream kill switch: what an operator turns off at 3 a.m. when streams hurt.</summary>
public sealed class LiveStreamEndpointsTests(OperatorServiceFactory factory) : IClassFixture<OperatorServiceFactory>
{
    [Fact]
    public async Task Turning_LiveStream_off_closes_open_streams_and_refuses_new_ones_until_it_is_on_again()
    {
        var user = await factory.SignUpAsync();
        var ops = await factory.OperatorAsync();
        await using var open = await SseClient.OpenAsync(user.Client);

        await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/LiveStream", new { enabled = false, reason = "stream storm" }), HttpStatusCode.OK);
        try
        {
            var closed = await open.NextAsync(TimeSpan.FromSeconds(10));
            Assert.Equal("stream.closed", closed.Type);
            Assert.Equal("disabled", closed.Json.GetProperty("reason").GetString());
            Assert.False(closed.Json.GetProperty("reconnect").GetBoolean());

            var (refused, response) = await SseClient.TryOpenAsync(user.Client);
            Assert.Null(refused);
            var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.Equal("LiveStream", problem.GetProperty("feature").GetString());
            Assert.NotNull(response.Headers.RetryAfter);
            await (await user.Client.PostAsync("/api/v1/stream/tickets", null)).ProblemAsync(HttpStatusCode.ServiceUnavailable);
        }
        finally
        {
            await Identity.EnsureAsync(await ops.Client.PutAsJsonAsync("/api/v1/admin/features/LiveStream", new { enabled = true, reason = "storm over" }), HttpStatusCode.OK);
        }
        await using var again = await SseClient.OpenAsync(user.Client);
    }
}
