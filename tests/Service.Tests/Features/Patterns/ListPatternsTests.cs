using Service.Tests.Fixtures;

namespace Service.Tests.Features.Patterns;

/// <summary>Patterns by kind, most supported first, in pages; bad filters are 400; another organization's pattern is 404.</summary>
public sealed class ListPatternsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Pages_cover_every_pattern_once_in_support_order_and_the_kind_filter_holds()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var all = await owner.AllPatternsAsync(orgId);
        Assert.Equal(PatternSetup.SmallTeam().Truth().Select(t => t.Kind).Distinct().Order(), all.Select(p => p.GetProperty("kind").GetString()!).Distinct().Order());

        var paged = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await owner.Client.GetFromJsonAsync<JsonElement>($"{PatternSetup.Patterns(orgId)}?limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            paged.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
        } while (cursor is not null);
        Assert.Equal(all.Select(p => p.GetProperty("id").GetGuid()), paged.Select(p => p.GetProperty("id").GetGuid()));
        var supports = paged.Select(p => p.GetProperty("sessions").GetInt32()).ToList();
        Assert.Equal(supports.OrderDescending(), supports);

        var schedules = await owner.Client.GetFromJsonAsync<JsonElement>($"{PatternSetup.Patterns(orgId)}?kind=schedule");
        Assert.All(schedules.GetProperty("items").EnumerateArray(), p =>
        {
            Assert.Equal("schedule", p.GetProperty("kind").GetString());
            Assert.Matches(@"^\d+ \d+ \* \* (\*|1-5|[0-6])$", p.GetProperty("schedule").GetProperty("cron").GetString());
            Assert.NotEqual(JsonValueKind.Null, p.GetProperty("sourceId").ValueKind);
        });
    }

    [Theory]
    [InlineData("kind=habit", "kind")]
    [InlineData("limit=0", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task Bad_queries_are_400_naming_the_field(string query, string field)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var problem = await (await owner.Client.GetAsync($"{PatternSetup.Patterns(orgId)}?{query}")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Another_organizations_pattern_is_not_found()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var patternId = (await owner.AllPatternsAsync(orgId))[0].GetProperty("id").GetGuid();
        var otherOrg = await owner.CreateOrgAsync("other");
        await (await owner.Client.GetAsync($"{PatternSetup.Patterns(otherOrg)}/{patternId}")).ProblemAsync(HttpStatusCode.NotFound);
    }
}
