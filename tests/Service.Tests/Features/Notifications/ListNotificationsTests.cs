using Service.Tests.Fixtures;

namespace Service.Tests.Features.Notifications;

public sealed class ListNotificationsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Newest_first_page_by_page_with_unread_and_type_filters()
    {
        var user = await factory.SignUpAsync();
        var ids = await factory.NotifyAsync(user.Id, count: 5, type: "test.a");
        ids.AddRange(await factory.NotifyAsync(user.Id, count: 2, type: "test.b"));
        await Identity.EnsureAsync(await user.Client.PostAsync($"/api/v1/notifications/{ids[6]}/read", null), HttpStatusCode.OK);

        var seen = new List<long>();
        string? cursor = null;
        do
        {
            var page = await user.Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications?limit=3{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(n => n.GetProperty("id").GetInt64()));
            cursor = page.GetProperty("nextCursor").GetString();
        } while (cursor is not null);
        Assert.Equal(ids.AsEnumerable().Reverse(), seen);

        var first = (await user.NotificationsAsync("?limit=1")).Single();
        Assert.Equal("test.b", first.GetProperty("type").GetString());
        Assert.Equal("Notice 2", first.GetProperty("title").GetString());
        Assert.Equal(2, first.GetProperty("data").GetProperty("n").GetInt32());
        Assert.NotEqual(JsonValueKind.Null, first.GetProperty("readAt").ValueKind);
        Assert.Equal(ids.Take(6).Reverse(), (await user.NotificationsAsync("?unread=true")).Select(n => n.GetProperty("id").GetInt64()));
        Assert.Equal(ids.Take(5).Reverse(), (await user.NotificationsAsync("?type=test.a")).Select(n => n.GetProperty("id").GetInt64()));
        Assert.Equal([ids[5]], (await user.NotificationsAsync("?type=test.b&unread=true")).Select(n => n.GetProperty("id").GetInt64()));
    }

    [Fact]
    public async Task A_user_sees_only_their_own()
    {
        var alice = await factory.SignUpAsync();
        var bob = await factory.SignUpAsync();
        await factory.NotifyAsync(alice.Id, count: 2);
        Assert.Empty(await bob.NotificationsAsync());
        Assert.Equal(2, (await alice.NotificationsAsync()).Count);
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?cursor=not-a-cursor", "cursor")]
    public async Task Bad_paging_is_a_400_naming_the_parameter(string query, string field)
    {
        var user = await factory.SignUpAsync();
        var problem = await (await user.Client.GetAsync($"/api/v1/notifications{query}")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task Agent_keys_and_anonymous_callers_are_refused()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId);
        await (await factory.CreateClient().GetAsync("/api/v1/notifications")).ProblemAsync(HttpStatusCode.Unauthorized);
        await (await factory.ClientWithApiKey(key).GetAsync("/api/v1/notifications")).ProblemAsync(HttpStatusCode.Forbidden);
    }
}
