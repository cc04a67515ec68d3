using Dapper;
using Npgsql;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Suggestions;

/// <summary>A dismissed suggestion's fingerprint is never suggested again, however often its pattern recurs.</summary>
public sealed class DismissSuggestionTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_dismissed_suggestion_never_comes_back_while_its_pattern_keeps_recurring()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var before = await owner.SuggestionsAsync(orgId);
        var dismissed = before[0];
        var response = await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{dismissed.GetProperty("id")}/dismiss", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("dismissed", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

        // The same habits go on (another two weeks of them, later) and detection runs again.
        var later = PatternSetup.SmallTeam(seed: 4).Generate();
        await factory.InsertEventsAsync(orgId, later);
        await factory.DetectAsync(orgId);
        await factory.DetectAsync(orgId);

        var patternId = dismissed.GetProperty("evidence").GetProperty("patternId").GetGuid();
        var pattern = await owner.Client.GetFromJsonAsync<JsonElement>($"{PatternSetup.Patterns(orgId)}/{patternId}");
        Assert.True(pattern.GetProperty("active").GetBoolean());
        var after = await owner.SuggestionsAsync(orgId);
        Assert.DoesNotContain(after, s => s.GetProperty("evidence").GetProperty("patternId").GetGuid() == patternId);
        Assert.Equal([dismissed.GetProperty("id").GetGuid()], (await owner.SuggestionsAsync(orgId, "dismissed")).Select(s => s.GetProperty("id").GetGuid()));
        await using var connection = await factory.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        Assert.Equal(1L, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM suggestions WHERE org_id = @orgId AND pattern_id = @patternId", new { orgId, patternId }));
    }

    [Fact]
    public async Task An_accepted_suggestion_cannot_be_dismissed_and_dismissing_twice_is_harmless()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var suggestions = await owner.SuggestionsAsync(orgId);
        var (accepted, other) = (suggestions[0].GetProperty("id").GetGuid(), suggestions[1].GetProperty("id").GetGuid());
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{accepted}/accept", null), HttpStatusCode.Created);
        await (await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{accepted}/dismiss", null)).ProblemAsync(HttpStatusCode.Conflict);

        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{other}/dismiss", null), HttpStatusCode.OK);
        await Identity.EnsureAsync(await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{other}/dismiss", null), HttpStatusCode.OK);
        await (await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{other}/accept", null)).ProblemAsync(HttpStatusCode.Conflict);
        Assert.Equal(1, await factory.CountAuditAsync("suggestion.dismissed", other.ToString()));
    }
}
