using System.Globalization;
using System.Text.Json;
using Dapper;
using Npgsql;
using Service.Infrastructure.Notifications;
using Service.Infrastructure.Streaming;
using Service.Infrastructure.Workflows;

namespace Service.Infrastructure.Patterns;

/// <summary>
/// One suggestion per pattern fingerprint, ever: a new pattern becomes a suggestion (announced as suggestion.created
/// on the stream and as a notification to the members who can accept it); a suggestion still new follows its
/// pattern's latest figures; an accepted, dismissed or snoozed one is left as its reviewer left it.
/// </summary>
public sealed class SuggestionWriter
{
    public const string NotificationType = "suggestion.created";

    public async Task<int> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, IReadOnlyList<WrittenPattern> patterns,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var created = new List<(Guid Id, SuggestionDraft Draft)>();
        foreach (var pattern in patterns)
        {
            var draft = SuggestionDrafts.For(pattern, now);
            // No row back: the suggestion exists and was decided (accepted, dismissed, snoozed): left alone.
            var (id, inserted) = await connection.QuerySingleOrDefaultAsync<(Guid Id, bool Inserted)>(new CommandDefinition("""
                INSERT INTO suggestions (id, org_id, pattern_id, fingerprint, kind, score, title, explanation, evidence, draft)
                VALUES (@newId, @orgId, @patternId, @Fingerprint, @Kind, @Score, @Title, @Explanation, @evidence::jsonb, @workflow::jsonb)
                ON CONFLICT (org_id, fingerprint) DO UPDATE SET pattern_id = excluded.pattern_id, score = excluded.score, title = excluded.title,
                    explanation = excluded.explanation, evidence = excluded.evidence, draft = excluded.draft, updated_at = now()
                    WHERE suggestions.status = 'new'
                RETURNING id, xmax = 0
                """, new
                {
                    newId = Guid.CreateVersion7(), orgId, patternId = pattern.Id, pattern.Fingerprint, pattern.Kind, draft.Score, draft.Title, draft.Explanation,
                    evidence = JsonSerializer.Serialize(draft.Evidence, JsonSerializerOptions.Web), workflow = JsonSerializer.Serialize(draft.Workflow, JsonSerializerOptions.Web),
                }, transaction, cancellationToken: cancellationToken));
            if (inserted) created.Add((id, draft));
        }
        if (created.Count == 0) return 0;
        foreach (var (id, draft) in created)
        {
            await StreamOutbox.QueueForOrgAsync(connection, transaction, orgId, StreamEventTypes.SuggestionCreated,
                JsonSerializer.Serialize(new { id, orgId, draft.Kind, draft.Title, draft.Score }, JsonSerializerOptions.Web), cancellationToken);
        }
        var members = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT user_id FROM memberships WHERE org_id = @orgId AND role IN ('owner', 'admin', 'member')", new { orgId }, transaction,
            cancellationToken: cancellationToken))).ToList();
        var best = created.OrderByDescending(c => c.Draft.Score).First();
        var title = created.Count == 1 ? $"New suggestion: {best.Draft.Title}" : $"{created.Count} new suggestions, such as: {best.Draft.Title}";
        await StreamOutbox.QueueNotificationAsync(connection, transaction, orgId, members, new NotificationDraft(NotificationType, title,
            best.Draft.Explanation, new { orgId, suggestionIds = created.Select(c => c.Id).ToArray() }), cancellationToken);
        return created.Count;
    }
}

public sealed record SuggestionDraft(string Kind, int Score, string Title, string Explanation, object Evidence, WorkflowDefinition Workflow);

/// <summary>What a pattern proposes: a plain-language title and explanation, a score, its evidence and a workflow draft.</summary>
public static class SuggestionDrafts
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>0-100: how reliably it happens (confidence), on how many days (support), and how lately (recency, a week's half-life).</summary>
    public static int Score(WrittenPattern p, DateTimeOffset now)
    {
        var recency = Math.Pow(0.5, Math.Max(0, (now.UtcDateTime - p.LastSeen).TotalDays) / 7);
        var support = Math.Min(1.0, p.Days / 10.0);
        return (int)Math.Round(100 * (0.45 * Math.Min(1.0, p.Confidence) + 0.35 * support + 0.2 * recency));
    }

    public static SuggestionDraft For(WrittenPattern p, DateTimeOffset now)
    {
        var evidence = new
        {
            patternId = p.Id, kind = p.Kind, sessions = p.Sessions, days = p.Days, confidence = Math.Round(p.Confidence, 3), lift = Math.Round(p.Lift, 2),
            firstSeenAt = p.FirstSeen, lastSeenAt = p.LastSeen, steps = p.Steps.Select(s => new { s.Type, s.Tool, s.Path, s.Exact }), exampleEventIds = p.Examples,
            schedule = p.Schedule,
        };
        var (title, explanation, workflow) = p.Kind switch
        {
            PatternKinds.Sequence => Sequence(p),
            PatternKinds.Schedule => Schedule(p),
            _ => CoOccurrence(p),
        };
        return new SuggestionDraft(p.Kind, Score(p, now), Cut(title, 200), explanation, evidence, workflow);
    }

    private static (string, string, WorkflowDefinition) Sequence(WrittenPattern p)
    {
        var first = p.Steps[0];
        var rest = p.Steps.Skip(1).ToList();
        var title = $"After you {Verb(first)} {first.ShortName}, {string.Join(", then ", rest.Select(s => $"{Verb(s)} {s.ShortName}"))}";
        var explanation = $"You {Past(first)} {Describe(first)}, then {string.Join(", then ", rest.Select(s => $"{Past(s)} {Describe(s)}"))} " +
            $"in {p.Sessions} sessions over {p.Days} days ({Percent(p.Confidence)} of the time). " +
            "This workflow starts when the first step happens and reminds the team of what usually follows.";
        var trigger = EventTrigger(first);
        var body = $"{{{{event.path}}}} was {Past(first)}. Usually next: {string.Join(", then ", rest.Select(s => $"{Verb(s)} {s.ShortName}"))}.";
        return (title, explanation, Draft(title, explanation, trigger, body));
    }

    private static (string, string, WorkflowDefinition) Schedule(WrittenPattern p)
    {
        var action = p.Steps[0];
        var schedule = p.Schedule!;
        var at = $"{schedule.MinuteOfDay / 60:00}:{schedule.MinuteOfDay % 60:00}";
        var when = schedule.Weekdays switch
        {
            "daily" => "every day",
            "weekdays" => "every weekday",
            var day => $"every {char.ToUpperInvariant(day[0])}{day[1..]}",
        };
        var title = $"{Capital(Verb(action))} {action.ShortName} {when} around {at}";
        var explanation = $"You {Past(action)} {Describe(action)} {when} around {at} ({schedule.TimeZone}) on {p.Days} days, " +
            $"{Percent(p.Confidence)} of the days you worked. This workflow runs on that schedule ({schedule.Cron}).";
        var trigger = new WorkflowTrigger(WorkflowTriggerTypes.Schedule, Cron: schedule.Cron, TimeZone: schedule.TimeZone);
        return (title, explanation, Draft(title, explanation, trigger, $"Time to {Verb(action)} {action.ShortName}."));
    }

    private static (string, string, WorkflowDefinition) CoOccurrence(WrittenPattern p)
    {
        var (a, b) = (p.Steps[0], p.Steps[1]);
        var title = $"{a.ShortName} and {b.ShortName} change together";
        var explanation = $"{Capital(Describe(a))} and {Describe(b)} were used in the same sessions {p.Sessions} times over {p.Days} days, " +
            $"{p.Lift.ToString("0.#", Invariant)} times more often than chance. This workflow reminds the team of one when the other changes.";
        var trigger = EventTrigger(a);
        return (title, explanation, Draft(title, explanation, trigger, $"{{{{event.path}}}} was {Past(a)}: {b.Path} usually changes with it."));
    }

    private static WorkflowTrigger EventTrigger(PatternItem item) =>
        new(WorkflowTriggerTypes.Event, EventTypes: [item.Type], PathGlob: item.Path, Tool: item.Tool, DebounceSeconds: 60);

    private static WorkflowDefinition Draft(string title, string explanation, WorkflowTrigger trigger, string body) =>
        new(Cut(title, 200), Cut(explanation, 1000), trigger, null,
            [new WorkflowStep("remind", WorkflowStepTypes.Notify, Input: JsonSerializer.SerializeToElement(new { title = Cut(title, 200), body, toRole = "member" }))],
            null);

    private static string Describe(PatternItem item) => item.Exact ? item.ShortName : $"a {item.ShortName.Replace("*", "", StringComparison.Ordinal)} file";

    private static string Verb(PatternItem item) => item.Type switch
    {
        "file_opened" => "open", "file_modified" => "edit", "file_created" => "create", "file_deleted" => "delete",
        "script_run" => "run", _ => item.Tool is { } tool ? $"use {tool} on" : "use",
    };

    private static string Past(PatternItem item) => item.Type switch
    {
        "file_opened" => "opened", "file_modified" => "edited", "file_created" => "created", "file_deleted" => "deleted",
        "script_run" => "ran", _ => item.Tool is { } tool ? $"used {tool} on" : "used",
    };

    private static string Percent(double share) => $"{Math.Round(Math.Min(1.0, share) * 100).ToString(Invariant)} %";
    private static string Capital(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
    private static string Cut(string text, int length) => text.Length <= length ? text : text[..(length - 1)] + "…";
}
