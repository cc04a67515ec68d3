using Npgsql;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.LiveStream;

/// <summary>One-time tickets let an EventSource, which cannot send headers, open the stream.</summary>
public sealed class CreateStreamTicketTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static async Task<JsonElement> TicketAsync(TestUser user)
    {
        var response = await user.Client.PostAsync("/api/v1/stream/tickets", null);
        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task ExecuteAsync(string sql, params object[] values)
    {
        await using var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var command = dataSource.CreateCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task A_ticket_opens_the_users_stream_once()
    {
        var user = await factory.SignUpAsync();
        var ticket = await TicketAsync(user);
        var url = ticket.GetProperty("streamUrl").GetString()!;
        Assert.StartsWith("/api/v1/stream?ticket=st_", url);
        Assert.True(ticket.GetProperty("expiresAt").GetDateTimeOffset() <= DateTimeOffset.UtcNow.AddSeconds(61));

        var anonymous = factory.CreateClient();
        await using (var stream = await SseClient.OpenAsync(anonymous, url))
        {
            var ids = await factory.NotifyAsync(user.Id);
            Assert.Equal(ids[0], (await stream.NextAsync(TimeSpan.FromSeconds(5))).Number);
        }

        var (reused, response) = await SseClient.TryOpenAsync(anonymous, url);
        Assert.Null(reused);
        var problem = await response.ProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Contains("already used", problem.GetProperty("detail").GetString());
        // EventSource accepts only text/event-stream; the refusal is problem details all the same.
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(problem.TryGetProperty("traceId", out _));
    }

    [Fact]
    public async Task Expired_unknown_and_misplaced_tickets_are_refused()
    {
        var user = await factory.SignUpAsync();
        var anonymous = factory.CreateClient();
        var expired = (await TicketAsync(user)).GetProperty("ticket").GetString()!;
        await ExecuteAsync("UPDATE stream_tickets SET expires_at = now() - interval '1 second' WHERE user_id = $1", user.Id);
        await (await anonymous.GetAsync($"/api/v1/stream?ticket={expired}")).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await anonymous.GetAsync("/api/v1/stream?ticket=st_made-up")).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await anonymous.GetAsync("/api/v1/stream?ticket=")).ProblemAsync(HttpStatusCode.Unauthorized);

        // A ticket opens the stream and nothing else.
        var fresh = (await TicketAsync(user)).GetProperty("ticket").GetString()!;
        await (await anonymous.GetAsync($"/api/v1/notifications?ticket={fresh}")).ProblemAsync(HttpStatusCode.Unauthorized);
        await using var stream = await SseClient.OpenAsync(anonymous, $"/api/v1/stream?ticket={fresh}");
    }

    [Fact]
    public async Task The_stream_of_a_ticket_ends_when_the_access_token_behind_it_expires()
    {
        var user = await factory.SignUpAsync();
        var ticket = (await TicketAsync(user)).GetProperty("ticket").GetString()!;
        await ExecuteAsync("UPDATE stream_tickets SET token_expires_at = now() + interval '2 seconds' WHERE user_id = $1", user.Id);
        await using var stream = await SseClient.OpenAsync(factory.CreateClient(), $"/api/v1/stream?ticket={ticket}");

        var closed = await stream.NextAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("stream.closed", closed.Type);
        Assert.Equal("token_expired", closed.Json.GetProperty("reason").GetString());
        Assert.Null(closed.Id);
        await stream.Ended.WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Only_signed_in_users_get_tickets()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        await (await factory.CreateClient().PostAsync("/api/v1/stream/tickets", null)).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await factory.ClientWithApiKey(key).PostAsync("/api/v1/stream/tickets", null)).ProblemAsync(HttpStatusCode.Forbidden);
    }
}
