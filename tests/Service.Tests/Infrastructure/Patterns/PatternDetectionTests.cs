using Xunit.Abstractions;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Patterns;

/// <summary>The detector against planted truth, and incremental runs against one full run.</summary>
public sealed class PatternDetectionTests(ServiceFactory factory, ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Planted_patterns_are_found_with_precision_and_recall_of_at_least_0_9()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var generator = new PatternGenerator(new PatternGenerator.Settings(Seed: 7, Days: 28, Noise: 0.8));
        var events = generator.Generate();
        await factory.InsertEventsAsync(orgId, events);

        var stats = await factory.DetectAsync(orgId);
        var detected = await owner.DetectedAsync(orgId);
        var (precision, recall, missed, extra) = PatternGenerator.Score(generator.Truth(), detected);
        output.WriteLine($"{events.Count} events, {stats.SessionsMined} sessions, {detected.Count} patterns: precision {precision:0.00}, recall {recall:0.00}");
        foreach (var m in missed) output.WriteLine($"missed: {m}");
        foreach (var e in extra) output.WriteLine($"extra: {e}");
        foreach (var p in await owner.AllPatternsAsync(orgId)) output.WriteLine($"{p.GetProperty("kind")} s={p.GetProperty("sessions")} d={p.GetProperty("days")} c={p.GetProperty("confidence")} l={p.GetProperty("lift")} {p.GetProperty("steps")[0].GetProperty("path")}");
        Assert.True(precision >= 0.9, $"precision {precision:0.00}; extra: {string.Join("; ", extra)}");
        Assert.True(recall >= 0.9, $"recall {recall:0.00}; missed: {string.Join("; ", missed)}");
    }

    [Fact]
    public async Task Many_small_increments_find_the_same_patterns_as_one_full_run()
    {
        var owner = await factory.SignUpAsync();
        var incremental = await owner.CreateOrgAsync("increments");
        var full = await owner.CreateOrgAsync("full");
        var events = new PatternGenerator(new PatternGenerator.Settings(Seed: 11, Days: 28, Users: 8, Noise: 0.7)).Generate();

        foreach (var chunk in events.Chunk(1500))
        {
            await factory.InsertEventsAsync(incremental, chunk);
            await factory.DetectAsync(incremental);
        }
        await factory.InsertEventsAsync(full, events);
        await factory.DetectAsync(full);

        static List<string> Summary(List<JsonElement> patterns) => patterns
            .Select(p => $"{p.GetProperty("fingerprint")} {p.GetProperty("sessions")} {p.GetProperty("days")} {p.GetProperty("confidence")} {p.GetProperty("lift")} {p.GetProperty("firstSeenAt")} {p.GetProperty("lastSeenAt")}")
            .Order(StringComparer.Ordinal).ToList();
        var fromIncrements = Summary(await owner.AllPatternsAsync(incremental));
        var fromFull = Summary(await owner.AllPatternsAsync(full));
        output.WriteLine($"{events.Count} events in {events.Chunk(1500).Count()} increments: {fromIncrements.Count} patterns");
        Assert.NotEmpty(fromFull);
        Assert.Equal(fromFull, fromIncrements);
    }
}
