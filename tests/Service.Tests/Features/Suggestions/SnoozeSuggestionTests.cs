using Dapper;
using Npgsql;
using Service.Infrastructure.Caching;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Suggestions;

/// <summary>A snoozed suggestion leaves the new list until its date, then reads as new again.</summary>
public sealed class SnoozeSuggestionTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_snoozed_suggestion_is_hidden_until_its_date_and_then_new_again()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var suggestionId = (await owner.SuggestionsAsync(orgId))[0].GetProperty("id").GetGuid();
        var until = DateTimeOffset.UtcNow.AddDays(3);

        var response = await owner.Client.PostAsJsonAsync($"{PatternSetup.Suggestions(orgId)}/{suggestionId}/snooze", new { until = until.ToString("O") });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var snoozed = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("snoozed", snoozed.GetProperty("status").GetString());
        Assert.Equal(until.ToUnixTimeMilliseconds(), snoozed.GetProperty("snoozedUntil").GetDateTimeOffset().ToUnixTimeMilliseconds());
        Assert.DoesNotContain(await owner.SuggestionsAsync(orgId), s => s.GetProperty("id").GetGuid() == suggestionId);
        Assert.Contains(await owner.SuggestionsAsync(orgId, "snoozed"), s => s.GetProperty("id").GetGuid() == suggestionId);

        // The date passes (moved back in the database; the cache is told as a change would tell it).
        await using (var connection = await factory.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE suggestions SET snoozed_until = now() - interval '1 second' WHERE id = @suggestionId", new { suggestionId });
        }
        await factory.Services.GetRequiredService<OrgReadCache>().InvalidateAsync(orgId, CancellationToken.None);
        Assert.Contains(await owner.SuggestionsAsync(orgId), s => s.GetProperty("id").GetGuid() == suggestionId && s.GetProperty("status").GetString() == "new");
        Assert.Equal(1, await factory.CountAuditAsync("suggestion.snoozed", suggestionId.ToString()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("tomorrow")]
    [InlineData("2020-01-01T00:00:00Z")]
    [InlineData("2999-01-01T00:00:00Z")]
    public async Task A_missing_past_or_distant_date_is_400(string? until)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var problem = await (await owner.Client.PostAsJsonAsync($"{PatternSetup.Suggestions(orgId)}/{Guid.NewGuid()}/snooze", new { until }))
            .ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("until", out _));
    }
}
