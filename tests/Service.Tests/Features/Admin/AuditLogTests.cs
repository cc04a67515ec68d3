using Service.Tests.Fixtures;

namespace Service.Tests.Features.Admin;

/// <summary>GET /api/v1/admin/audit: filters, keyset pagination, and bad input.</summary>
public sealed class AuditLogTests(OperatorServiceFactory factory) : IClassFixture<OperatorServiceFactory>
{
    private static async Task RenameAsync(TestUser owner, Guid orgId, int times)
    {
        for (var i = 0; i < times; i++)
        {
            await Identity.EnsureAsync(await owner.Client.PatchAsJsonAsync($"/api/v1/orgs/{orgId}", new { name = $"Name {i}" }), HttpStatusCode.OK);
        }
    }

    [Fact]
    public async Task Pages_return_every_entry_exactly_once_newest_first_while_new_entries_arrive()
    {
        var ops = await factory.OperatorAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Paged");
        await RenameAsync(owner, orgId, 24); // 25 entries: created + 24 renames

        var seen = new List<JsonElement>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await ops.Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit?orgId={orgId}&limit=7" + (cursor is null ? "" : $"&cursor={cursor}"));
            seen.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
            if (pages++ == 0) await RenameAsync(owner, orgId, 3); // newer than the first page: must not shift later pages
        } while (cursor is not null);

        Assert.Equal(4, pages);
        var ids = seen.Select(e => e.GetProperty("id").GetInt64()).ToList();
        Assert.Equal(25, ids.Distinct().Count());
        Assert.Equal(25, ids.Count);
        var keys = seen.Select(e => (At: e.GetProperty("occurredAt").GetDateTimeOffset(), Id: e.GetProperty("id").GetInt64())).ToList();
        Assert.Equal(keys.OrderByDescending(k => k.At).ThenByDescending(k => k.Id), keys);
        Assert.Equal("org.created", seen[^1].GetProperty("action").GetString());
    }

    [Fact]
    public async Task Filters_combine()
    {
        var ops = await factory.OperatorAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Filtered");
        await RenameAsync(owner, orgId, 2);
        var other = await factory.SignUpAsync();
        await RenameAsync(other, await other.CreateOrgAsync("Elsewhere"), 1);

        async Task<List<JsonElement>> QueryAsync(string query) =>
            (await ops.Client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/audit?{query}")).GetProperty("items").EnumerateArray().ToList();

        var renames = await QueryAsync($"action=org.renamed&orgId={orgId}");
        Assert.Equal(2, renames.Count);
        Assert.All(renames, e => Assert.Equal(owner.Id.ToString(), e.GetProperty("actorId").GetString()));

        var byActor = await QueryAsync($"actorId={owner.Id}&actorType=user");
        Assert.Equal(["org.renamed", "org.renamed", "org.created", "user.registered"], byActor.Select(e => e.GetProperty("action").GetString()));

        Assert.Single(await QueryAsync($"targetType=organization&targetId={orgId}&action=org.created"));
        Assert.Empty(await QueryAsync($"orgId={orgId}&from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}"));
        Assert.Equal(3, (await QueryAsync($"orgId={orgId}&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddMinutes(1).ToString("O"))}")).Count);
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=MTIz", "cursor")]
    [InlineData("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from")]
    public async Task Bad_parameters_are_400_naming_the_field(string query, string field)
    {
        var ops = await factory.OperatorAsync();
        var problem = await (await ops.Client.GetAsync($"/api/v1/admin/audit?{query}")).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Unparseable_values_are_400_not_500()
    {
        var ops = await factory.OperatorAsync();
        await (await ops.Client.GetAsync("/api/v1/admin/audit?orgId=not-a-guid")).ProblemAsync(HttpStatusCode.BadRequest);
        await (await ops.Client.GetAsync("/api/v1/admin/audit?from=yesterday")).ProblemAsync(HttpStatusCode.BadRequest);
        await (await ops.Client.GetAsync("/api/v1/admin/audit?limit=many")).ProblemAsync(HttpStatusCode.BadRequest);
    }
}
