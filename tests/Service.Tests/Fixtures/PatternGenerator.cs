using Npgsql;
using NpgsqlTypes;

namespace Service.Tests.Fixtures;

/// <summary>
/// Synthetic file-usage events of a team (deterministic for a seed): people work weekdays in a few sessions a day,
/// touching files of their own at random (the noise), and some of them carry planted habits: sequences (ordered steps
/// within minutes), schedules (an action at about the same time every working day) and co-occurrences (two files
/// edited together, in either order). The truth lists what a detector should find. Shared by tests and bench/patterns.
/// </summary>
public sealed class PatternGenerator(PatternGenerator.Settings settings)
{
    /// <param name="Noise">The share of events that belong to no planted habit (0.8: four noise events for every planted one).</param>
    public sealed record Settings(int Seed = 7, int Days = 30, int Users = 20, double Noise = 0.8, int SessionsPerDay = 3, double HabitChance = 0.4,
        int MinNoisePerSession = 4, DateTime? End = null, int MinSpacingSeconds = 5, int MaxSpacingSeconds = 40);

    public sealed record Event(Guid Id, Guid SourceId, string Type, string? Tool, string Path, DateTime OccurredAt);

    /// <summary>A planted habit as the detector should report it: steps as (type, tool, path) with the path a template or an exact file.</summary>
    public sealed record Planted(string Kind, IReadOnlyList<(string Type, string? Tool, string Path)> Steps, Guid? SourceId = null, string? Weekdays = null, int? MinuteOfDay = null);

    private sealed record Step(string Type, string? Tool, string Directory, string[] Names, bool Exact)
    {
        public (string Type, string? Tool, string Path) Expected => (Type, Tool, Exact ? $"{Directory}/{Names[0]}" : $"{Directory}/**/*{Path.GetExtension(Names[0])}");
    }

    private static readonly Step[][] Sequences =
    [
        [
            new("file_modified", null, "/work/acme/src", ["api.py", "models.py", "views.py", "utils.py", "tasks.py", "forms.py", "admin.py", "urls.py"], false),
            new("script_run", "bash", "/work/acme", ["build.sh"], true),
            new("file_created", null, "/work/acme/reports", ["daily.csv", "weekly.csv", "errors.csv", "latency.csv", "usage.csv", "sales.csv"], false),
        ],
        [
            new("file_opened", null, "/work/acme/specs", ["auth.md", "billing.md", "search.md", "export.md", "onboarding.md"], false),
            new("file_modified", null, "/work/acme/api", ["openapi.yaml"], true),
        ],
        [
            new("file_modified", null, "/work/acme/sql", ["users.sql", "orders.sql", "items.sql", "audit.sql", "views.sql"], false),
            new("script_run", "bash", "/work/acme/scripts", ["migrate.sh"], true),
            new("script_run", "bash", "/work/acme/scripts", ["seed.sh"], true),
            new("file_opened", null, "/work/acme/logs", ["migrate.log", "seed.log", "app.log", "db.log"], false),
        ],
        [
            new("file_created", null, "/work/acme/exports", ["q1.xlsx", "q2.xlsx", "q3.xlsx", "q4.xlsx", "ytd.xlsx", "forecast.xlsx"], false),
            new("file_opened", null, "/work/acme/dashboards", ["sales.pbix"], true),
        ],
    ];

    private static readonly (string A, string B)[] CoOccurrences =
    [
        ("/work/acme/db/schema.sql", "/work/acme/app/models/user_model.rb"),
        ("/work/acme/web/styles/theme.css", "/work/acme/web/components/Header.tsx"),
        ("/work/acme/docs/CHANGELOG.md", "/work/acme/release/package.json"),
    ];

    // (user, type, tool, path, minute of day, weekdays)
    private static readonly (int User, string Type, string? Tool, string Path, int Minute, string Weekdays)[] Schedules =
    [
        (0, "file_opened", null, "/work/acme/kpi/weekly-kpi.xlsx", 9 * 60 + 5, "weekdays"),
        (1, "script_run", "bash", "/work/acme/ops/backup.sh", 17 * 60 + 30, "weekdays"),
        (2, "file_opened", null, "/work/acme/standup/notes.md", 9 * 60 + 45, "weekdays"),
    ];

    private static readonly string[] NoiseTypes = ["file_opened", "file_opened", "file_opened", "file_modified", "file_modified", "file_modified", "file_created", "file_deleted", "tool_used"];
    private static readonly string[] NoiseExtensions = [".txt", ".md", ".json", ".png", ".docx", ".ts", ".go", ".yaml"];

    public static Guid UserId(int user) => new($"00000000-0000-4000-8000-{user + 1:D12}");

    public IReadOnlyList<Planted> Truth()
    {
        var truth = new List<Planted>();
        truth.AddRange(Sequences.Select(steps => new Planted("sequence", steps.Select(s => s.Expected).ToList())));
        truth.AddRange(CoOccurrences.Select(pair => new Planted("co_occurrence", [("file_modified", null, pair.A), ("file_modified", null, pair.B)])));
        truth.AddRange(Schedules.Where(s => s.User < settings.Users).Select(s => new Planted("schedule", [(s.Type, s.Tool, s.Path)], UserId(s.User), s.Weekdays, s.Minute)));
        return truth;
    }

    public List<Event> Generate()
    {
        var random = new Random(settings.Seed);
        var end = (settings.End ?? DateTime.UtcNow).Date;
        var start = end.AddDays(-settings.Days);
        var events = new List<Event>();
        // Each habit is carried by a subset of the team.
        var sequenceUsers = Sequences.Select(_ => Pick(random, settings.Users, Math.Max(2, settings.Users * 3 / 10))).ToArray();
        var pairUsers = CoOccurrences.Select(_ => Pick(random, settings.Users, Math.Max(2, settings.Users * 4 / 10))).ToArray();
        var noiseFiles = Enumerable.Range(0, settings.Users).Select(u => NoiseFiles(random, u)).ToArray();
        Guid NextId() => new(Enumerable.Range(0, 16).Select(_ => (byte)random.Next(256)).ToArray());

        for (var day = start; day < end; day = day.AddDays(1))
        {
            if (day.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday) continue;
            for (var user = 0; user < settings.Users; user++)
            {
                var source = UserId(user);
                foreach (var (minute, _) in Schedules.Where(s => s.User == user).Select(s => (s.Minute, s)))
                {
                    if (random.NextDouble() > 0.9) continue;
                    var s = Schedules.First(x => x.User == user && x.Minute == minute);
                    events.Add(new Event(NextId(), source, s.Type, s.Tool, s.Path, day.AddMinutes(minute + random.Next(-10, 11)).AddSeconds(random.Next(60))));
                }
                // Sessions start at 08:00, 11:00 and 14:30 give or take, never overlapping.
                var sessionStarts = new[] { 8 * 60, 11 * 60, 14 * 60 + 30 }.Take(settings.SessionsPerDay);
                foreach (var startMinute in sessionStarts)
                {
                    var planted = new List<List<(string Type, string? Tool, string Path)>>();
                    for (var k = 0; k < Sequences.Length; k++)
                    {
                        if (!sequenceUsers[k].Contains(user) || random.NextDouble() > settings.HabitChance) continue;
                        planted.Add(Sequences[k].Select(step => (step.Type, step.Tool, $"{step.Directory}/{step.Names[random.Next(step.Names.Length)]}")).ToList());
                    }
                    for (var k = 0; k < CoOccurrences.Length; k++)
                    {
                        if (!pairUsers[k].Contains(user) || random.NextDouble() > settings.HabitChance) continue;
                        var (a, b) = random.Next(2) == 0 ? CoOccurrences[k] : (CoOccurrences[k].B, CoOccurrences[k].A);
                        planted.Add([("file_modified", (string?)null, a), ("file_modified", null, b)]);
                    }
                    // Noise does not depend on what this session holds: its length is drawn around what makes noise the
                    // set share of the user's events (a session with a habit is not longer because of it, by much).
                    var expectedPlanted = settings.HabitChance * (Enumerable.Range(0, Sequences.Length).Where(k => sequenceUsers[k].Contains(user)).Sum(k => Sequences[k].Length)
                        + 2 * Enumerable.Range(0, CoOccurrences.Length).Count(k => pairUsers[k].Contains(user)));
                    var noiseCount = Math.Max(settings.MinNoisePerSession,
                        (int)Math.Round(expectedPlanted * settings.Noise / (1 - settings.Noise) * (0.5 + random.NextDouble())));
                    var timeline = Interleave(random, planted, noiseCount, () => NoiseEvent(random, noiseFiles[user]));
                    var at = day.AddMinutes(startMinute + random.Next(0, 20));
                    foreach (var (type, tool, path) in timeline)
                    {
                        events.Add(new Event(NextId(), source, type, tool, path, at));
                        at = at.AddSeconds(random.Next(settings.MinSpacingSeconds, settings.MaxSpacingSeconds));
                    }
                }
            }
        }
        return events.OrderBy(e => e.OccurredAt).ThenBy(e => e.Id).ToList();
    }

    /// <summary>
    /// Noise around the planted habits, each habit's steps in order with at most six noise events between two of them
    /// (so consecutive steps stay within minutes of each other).
    /// </summary>
    private static List<(string, string?, string)> Interleave(Random random, List<List<(string, string?, string)>> planted, int noise,
        Func<(string, string?, string)> noiseEvent)
    {
        var timeline = Enumerable.Range(0, noise).Select(_ => noiseEvent()).ToList();
        foreach (var habit in planted)
        {
            var position = random.Next(timeline.Count + 1);
            foreach (var step in habit)
            {
                position = Math.Min(position, timeline.Count);
                timeline.Insert(position, step);
                position += 1 + random.Next(0, 7);
            }
        }
        return timeline;
    }

    private static HashSet<int> Pick(Random random, int users, int count) =>
        Enumerable.Range(0, users).OrderBy(_ => random.Next()).Take(Math.Min(count, users)).ToHashSet();

    private static List<string> NoiseFiles(Random random, int user)
    {
        var directories = Enumerable.Range(0, 10).Select(d => d < 6 ? $"/home/u{user}/work/area{d}" : $"/work/acme/misc/u{user}-{d}").ToArray();
        return Enumerable.Range(0, 150).Select(f => $"{directories[random.Next(directories.Length)]}/file{f}{NoiseExtensions[random.Next(NoiseExtensions.Length)]}").ToList();
    }

    private static (string, string?, string) NoiseEvent(Random random, List<string> files)
    {
        var type = NoiseTypes[random.Next(NoiseTypes.Length)];
        return (type, type == "tool_used" ? "editor" : null, files[random.Next(files.Count)]);
    }

    /// <summary>Stores events with binary COPY as ingest would have stored them (the detector reads the table; how rows got there does not matter to it).</summary>
    public static async Task CopyAsync(NpgsqlDataSource dataSource, Guid orgId, IEnumerable<Event> events)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var copy = await connection.BeginBinaryImportAsync("COPY events (id, org_id, source_type, source_id, type, occurred_at, path, tool) FROM STDIN (FORMAT BINARY)");
        foreach (var e in events)
        {
            await copy.StartRowAsync();
            await copy.WriteAsync(Guid.CreateVersion7(), NpgsqlDbType.Uuid);
            await copy.WriteAsync(orgId, NpgsqlDbType.Uuid);
            await copy.WriteAsync("user", NpgsqlDbType.Text);
            await copy.WriteAsync(e.SourceId, NpgsqlDbType.Uuid);
            await copy.WriteAsync(e.Type, NpgsqlDbType.Text);
            await copy.WriteAsync(DateTime.SpecifyKind(e.OccurredAt, DateTimeKind.Utc), NpgsqlDbType.TimestampTz);
            await copy.WriteAsync(e.Path, NpgsqlDbType.Text);
            if (e.Tool is null) await copy.WriteNullAsync(); else await copy.WriteAsync(e.Tool, NpgsqlDbType.Text);
        }
        await copy.CompleteAsync();
    }

    /// <summary>Precision and recall of detected patterns against the truth.</summary>
    public static (double Precision, double Recall, List<string> Missed, List<string> Extra) Score(IReadOnlyList<Planted> truth, IReadOnlyList<Planted> detected)
    {
        bool Matches(Planted t, Planted d) =>
            t.Kind == d.Kind && (t.Kind switch
            {
                "co_occurrence" => t.Steps.ToHashSet().SetEquals(d.Steps),
                "schedule" => t.Steps.SequenceEqual(d.Steps) && t.SourceId == d.SourceId && t.Weekdays == d.Weekdays && Math.Abs(t.MinuteOfDay!.Value - d.MinuteOfDay!.Value) <= 20,
                _ => t.Steps.SequenceEqual(d.Steps),
            });
        var missed = truth.Where(t => !detected.Any(d => Matches(t, d))).Select(Describe).ToList();
        var extra = detected.Where(d => !truth.Any(t => Matches(t, d))).Select(Describe).ToList();
        var precision = detected.Count == 0 ? 0 : (double)(detected.Count - extra.Count) / detected.Count;
        var recall = truth.Count == 0 ? 1 : (double)(truth.Count - missed.Count) / truth.Count;
        return (precision, recall, missed, extra);
    }

    public static string Describe(Planted p) =>
        $"{p.Kind} {string.Join(" -> ", p.Steps.Select(s => $"{s.Type}{(s.Tool is null ? "" : $"[{s.Tool}]")} {s.Path}"))}{(p.Weekdays is null ? "" : $" {p.Weekdays} {p.MinuteOfDay / 60:00}:{p.MinuteOfDay % 60:00}")}";
}
