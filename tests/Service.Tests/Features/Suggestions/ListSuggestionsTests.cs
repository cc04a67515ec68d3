using Service.Tests.Fixtures;

namespace Service.Tests.Features.Suggestions;

/// <summary>New suggestions are listed best first, explained, and announced to members on the stream and as a notification.</summary>
public sealed class ListSuggestionsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task New_suggestions_are_announced_on_the_stream_and_notified_then_listed_by_score()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        await using var stream = await SseClient.OpenAsync(owner.Client);
        await factory.InsertEventsAsync(orgId, PatternSetup.SmallTeam().Generate());
        var stats = await factory.DetectAsync(orgId);
        Assert.True(stats.NewSuggestions >= 3, $"{stats}");

        var announced = new List<JsonElement>();
        while (announced.Count < stats.NewSuggestions)
        {
            var next = await stream.NextAsync(TimeSpan.FromSeconds(10));
            if (next.Type == "suggestion.created") announced.Add(next.Json);
        }
        var suggestions = await viewer.SuggestionsAsync(orgId);
        Assert.Equal(suggestions.Select(s => s.GetProperty("id").GetGuid()).Order(), announced.Select(a => a.GetProperty("id").GetGuid()).Order());
        var scores = suggestions.Select(s => s.GetProperty("score").GetInt32()).ToList();
        Assert.Equal(scores.OrderDescending(), scores);
        Assert.All(suggestions, s =>
        {
            Assert.InRange(s.GetProperty("score").GetInt32(), 1, 100);
            Assert.False(string.IsNullOrWhiteSpace(s.GetProperty("title").GetString()));
            Assert.Matches(@"\d+ (sessions|days)", s.GetProperty("explanation").GetString());
            Assert.InRange(s.GetProperty("evidence").GetProperty("exampleEventIds").GetArrayLength(), 1, 5);
        });
        var sequence = suggestions.First(s => s.GetProperty("kind").GetString() == "sequence");
        Assert.Contains("sessions over", sequence.GetProperty("explanation").GetString());

        // One notification per detection run for members who can act on it; the viewer only sees the stream's event.
        var notifications = await owner.WaitForNotificationAsync(n => n.GetProperty("type").GetString() == "suggestion.created");
        Assert.Single(notifications, n => n.GetProperty("type").GetString() == "suggestion.created");
        Assert.DoesNotContain(await viewer.NotificationsAsync(), n => n.GetProperty("type").GetString() == "suggestion.created");
    }

    [Fact]
    public async Task An_unknown_status_is_400()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var problem = await (await owner.Client.GetAsync($"{PatternSetup.Suggestions(orgId)}?status=maybe")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("status", out _));
    }
}
