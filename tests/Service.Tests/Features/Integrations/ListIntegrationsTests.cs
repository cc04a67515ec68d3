using Service.Tests.Fixtures;

namespace Service.Tests.Features.Integrations;

public sealed class ListIntegrationsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Pages_follow_the_cursor_newest_first_without_gaps_or_repeats()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var created = new List<Guid>();
        for (var i = 0; i < 5; i++) created.Add((await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/", name: $"hook {i}")).Id);

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/integrations?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
        } while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(created), seen);
        var bad = await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/integrations?cursor=nope&limit=0");
        var errors = (await bad.ProblemAsync(HttpStatusCode.BadRequest)).GetProperty("errors");
        Assert.True(errors.TryGetProperty("cursor", out _) && errors.TryGetProperty("limit", out _));
    }
}
