using Npgsql;
using Service.Infrastructure.Patterns;

namespace Service.Tests.Fixtures;

/// <summary>Generated events stored as ingest would have stored them, and detection run to completion.</summary>
public static class PatternSetup
{
    public static string Patterns(Guid orgId) => $"/api/v1/orgs/{orgId}/patterns";
    public static string Suggestions(Guid orgId) => $"/api/v1/orgs/{orgId}/suggestions";

    /// <summary>A small team's two weeks: enough for sequences, co-occurrences and schedules to become suggestions.</summary>
    public static PatternGenerator SmallTeam(int seed = 3) => new(new PatternGenerator.Settings(Seed: seed, Days: 14, Users: 6, Noise: 0.5));

    /// <summary>An organization of <paramref name="owner"/> whose events have been through detection.</summary>
    public static async Task<Guid> OrgWithSuggestionsAsync(this ServiceFactory factory, TestUser owner, int seed = 3)
    {
        var orgId = await owner.CreateOrgAsync();
        await factory.InsertEventsAsync(orgId, SmallTeam(seed).Generate());
        await factory.DetectAsync(orgId);
        return orgId;
    }

    public static Task InsertEventsAsync(this ServiceFactory factory, Guid orgId, IEnumerable<PatternGenerator.Event> events) =>
        PatternGenerator.CopyAsync(factory.Services.GetRequiredService<NpgsqlDataSource>(), orgId, events);

    /// <summary>Runs detection now on this instance (waiting out a run the background detector holds).</summary>
    public static async Task<DetectionStats> DetectAsync(this ServiceFactory factory, Guid orgId)
    {
        var detection = factory.Services.GetRequiredService<PatternDetection>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (await detection.RunAsync(orgId, CancellationToken.None) is { } stats) return stats;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"detection of {orgId} stayed locked");
            await Task.Delay(50);
        }
    }

    /// <summary>Every active pattern, through the API, as the generator's truth describes patterns.</summary>
    public static async Task<List<PatternGenerator.Planted>> DetectedAsync(this TestUser member, Guid orgId)
    {
        var all = await member.AllPatternsAsync(orgId);
        return all.Select(p => new PatternGenerator.Planted(p.GetProperty("kind").GetString()!,
            p.GetProperty("steps").EnumerateArray().Select(s => (s.GetProperty("type").GetString()!, s.GetProperty("tool").GetString(), s.GetProperty("path").GetString()!)).ToList(),
            p.GetProperty("sourceId").ValueKind == JsonValueKind.Null ? null : p.GetProperty("sourceId").GetGuid(),
            p.GetProperty("schedule") is { ValueKind: JsonValueKind.Object } schedule ? schedule.GetProperty("weekdays").GetString() : null,
            p.GetProperty("schedule") is { ValueKind: JsonValueKind.Object } s2 ? s2.GetProperty("minuteOfDay").GetInt32() : null)).ToList();
    }

    public static async Task<List<JsonElement>> AllPatternsAsync(this TestUser member, Guid orgId)
    {
        var all = new List<JsonElement>();
        string? cursor = null;
        do
        {
            var page = await member.Client.GetFromJsonAsync<JsonElement>($"{Patterns(orgId)}?limit=200{(cursor is null ? "" : $"&cursor={cursor}")}");
            all.AddRange(page.GetProperty("items").EnumerateArray());
            cursor = page.GetProperty("nextCursor").GetString();
        } while (cursor is not null);
        return all;
    }

    public static async Task<List<JsonElement>> SuggestionsAsync(this TestUser member, Guid orgId, string status = "new")
    {
        var page = await member.Client.GetFromJsonAsync<JsonElement>($"{Suggestions(orgId)}?status={status}&limit=200");
        return page.GetProperty("items").EnumerateArray().ToList();
    }
}
