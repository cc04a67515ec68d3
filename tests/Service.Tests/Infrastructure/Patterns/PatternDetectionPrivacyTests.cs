using Npgsql;
using Service.Infrastructure.Privacy;
using Service.Tests.Features.Privacy;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Infrastructure.Patterns;

/// <summary>
/// Detection works on paths in the form a privacy policy stored them: the planted habits of a team, sent through
/// ingest by each person's agent, are found again under home and hash_dirs, and no pattern shows a readable home.
/// </summary>
public sealed class PatternDetectionPrivacyTests(ServiceFactory factory, ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    private static readonly PatternGenerator Generator = new(new PatternGenerator.Settings(Seed: 7, Days: 21, Users: 10, Noise: 0.7));

    [Fact]
    public async Task Under_home_each_persons_checkout_becomes_the_same_path_and_the_shared_habits_are_found()
    {
        // Every person works in their own home directory: /home/u3/work/acme/... Stored as ~/work/acme/..., the habits meet again.
        var (owner, orgId, keys) = await IngestAsync("home", e => e.Path.StartsWith("/work/", StringComparison.Ordinal) ? $"/home/u{User(e.SourceId)}{e.Path}" : e.Path);
        var truth = Generator.Truth().Select(p => Mapped(p, keys, path => "~" + path)).ToList();
        await AssertFoundAsync(owner, orgId, truth);
    }

    [Fact]
    public async Task Under_hash_dirs_the_habits_are_found_with_every_directory_hashed()
    {
        var (owner, orgId, keys) = await IngestAsync("hash_dirs", e => e.Path);
        await using var connection = await factory.Services.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
        var policy = await factory.Services.GetRequiredService<PrivacyPolicies>().GetAsync(connection, null, orgId, CancellationToken.None);
        string Stored(string path)
        {
            var template = path.IndexOf("/**/", StringComparison.Ordinal);
            return template < 0 ? policy.StoredPath(path) : policy.StoredPath(path[..(template + 1)]) + path[(template + 1)..];
        }
        var truth = Generator.Truth().Select(p => Mapped(p, keys, Stored)).ToList();
        await AssertFoundAsync(owner, orgId, truth);
    }

    private async Task<(TestUser Owner, Guid OrgId, Dictionary<Guid, Guid> Keys)> IngestAsync(string pathMode, Func<PatternGenerator.Event, string> path)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(UpdatePrivacyPolicyTests.Url(orgId), UpdatePrivacyPolicyTests.Body(pathMode, retentionDays: null)),
            HttpStatusCode.OK);
        var events = Generator.Generate();
        var keys = new Dictionary<Guid, Guid>();
        foreach (var person in events.GroupBy(e => e.SourceId))
        {
            var (keyId, key) = await owner.CreateApiKeyAsync(orgId, $"agent {User(person.Key)}");
            keys[person.Key] = keyId;
            var agent = factory.ClientWithApiKey(key);
            foreach (var batch in person.Chunk(1000))
            {
                var response = await agent.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new
                {
                    events = batch.Select(e => new { type = e.Type, tool = e.Tool, path = path(e), occurredAt = DateTime.SpecifyKind(e.OccurredAt, DateTimeKind.Utc).ToString("O") }),
                });
                await Identity.EnsureAsync(response, HttpStatusCode.Created);
            }
        }
        output.WriteLine($"{events.Count} events from {keys.Count} agents");
        return (owner, orgId, keys);
    }

    private async Task AssertFoundAsync(TestUser owner, Guid orgId, List<PatternGenerator.Planted> truth)
    {
        await factory.DetectAsync(orgId);
        var detected = await owner.DetectedAsync(orgId);
        var (precision, recall, missed, _) = PatternGenerator.Score(truth, detected);
        output.WriteLine($"{detected.Count} patterns: precision {precision:0.00}, recall {recall:0.00}");
        Assert.True(recall >= 1.0, $"recall {recall:0.00}; missed: {string.Join("; ", missed)}");
        Assert.DoesNotContain(detected.SelectMany(p => p.Steps), s => s.Path.StartsWith("/home/", StringComparison.Ordinal));
    }

    private static PatternGenerator.Planted Mapped(PatternGenerator.Planted planted, Dictionary<Guid, Guid> keys, Func<string, string> stored) =>
        planted with
        {
            Steps = planted.Steps.Select(s => (s.Type, s.Tool, stored(s.Path))).ToList(),
            SourceId = planted.SourceId is { } source ? keys[source] : null,
        };

    private static int User(Guid sourceId) => (int)long.Parse(sourceId.ToString()[^12..]) - 1;
}
