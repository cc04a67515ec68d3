using Service.Infrastructure.Patterns;

namespace Service.Tests.Infrastructure.Patterns;

/// <summary>The miner on hand-made sessions: a weekly habit becomes a one-weekday cron in the configured zone; noise alone finds nothing.</summary>
public sealed class PatternMinerTests
{
    private static readonly Guid Ana = Guid.NewGuid();
    private static readonly string[] Files = Enumerable.Range(0, 40).Select(i => $"/home/ana/notes/n{i}.md").ToArray();

    private static long Item(string type, string path, bool exact) => PatternItem.HashOf(type, null, exact ? path : PatternItem.Template(path), exact);

    /// <summary>A session of ana's at <paramref name="start"/> (UTC): the given events, one a minute.</summary>
    private static MinedSession Session(DateTime start, params (string Type, string Path)[] events) => new(Ana, start,
        events.Select(e => Item(e.Type, e.Path, false)).ToArray(), events.Select(e => Item(e.Type, e.Path, true)).ToArray(),
        events.Select((_, i) => i * 60).ToArray());

    private static List<MinedSession> SixWeeks(Random random, bool withHabit)
    {
        var sessions = new List<MinedSession>();
        var monday = new DateTime(2026, 1, 5, 0, 0, 0, DateTimeKind.Utc);
        for (var day = 0; day < 42; day++)
        {
            var date = monday.AddDays(day);
            if (date.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday) continue;
            // Noise all day long: two sessions at varying hours.
            foreach (var hour in new[] { 6 + random.Next(3), 12 + random.Next(4) })
            {
                sessions.Add(Session(date.AddHours(hour).AddMinutes(random.Next(60)),
                    Enumerable.Range(0, 12).Select(_ => ("file_opened", Files[random.Next(Files.Length)])).ToArray()));
            }
            // Mondays at 09:00 Berlin time (08:00 UTC in winter), give or take five minutes.
            if (withHabit && date.DayOfWeek == DayOfWeek.Monday)
            {
                sessions.Add(Session(date.AddHours(8).AddMinutes(random.Next(-5, 6)), ("file_opened", "/home/ana/reports/weekly.xlsx")));
            }
        }
        return sessions.OrderBy(s => s.StartedAt).ToList();
    }

    [Fact]
    public void A_monday_habit_becomes_a_one_weekday_cron_in_the_configured_zone()
    {
        var found = PatternMiner.Mine(SixWeeks(new Random(3), withHabit: true), new PatternOptions { TimeZone = "Europe/Berlin" });

        var schedule = Assert.Single(found, p => p.Kind == PatternKinds.Schedule);
        Assert.Equal([Item("file_opened", "/home/ana/reports/weekly.xlsx", true)], schedule.Steps);
        Assert.Equal(Ana, schedule.SourceId);
        Assert.Equal("monday", schedule.Schedule!.Weekdays);
        Assert.Matches(@"^(55 8|0 9|5 9) \* \* 1$", schedule.Schedule.Cron);
        Assert.Equal("Europe/Berlin", schedule.Schedule.TimeZone);
        Assert.Equal(6, schedule.Days);
        Assert.Equal(1.0, schedule.Confidence);
    }

    [Fact]
    public void Noise_alone_is_no_pattern()
    {
        Assert.Empty(PatternMiner.Mine(SixWeeks(new Random(5), withHabit: false), new PatternOptions()));
    }
}
