using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.Patterns;

/// <summary>How the detector runs and the thresholds a pattern must pass. The README explains each default.</summary>
public sealed class PatternOptions : IValidatableObject
{
    public const string Section = "Patterns";

    /// <summary>Each organization's detector runs at most this often by itself; POST .../patterns/detect runs it at once.</summary>
    [Range(10, 86_400, ErrorMessage = "Patterns:DetectIntervalSeconds (env Patterns__DetectIntervalSeconds): must be from 10 to 86400. Fix: e.g. 300.")]
    public int DetectIntervalSeconds { get; set; } = 300;

    /// <summary>A source's events further apart than this start a new session (also: a source quiet this long closes its session).</summary>
    [Range(1, 1440, ErrorMessage = "Patterns:SessionGapMinutes (env Patterns__SessionGapMinutes): must be from 1 to 1440. Fix: e.g. 10.")]
    public int SessionGapMinutes { get; set; } = 10;

    /// <summary>The longest wait between two steps of a sequence within a session.</summary>
    [Range(1, 1440, ErrorMessage = "Patterns:StepGapMinutes (env Patterns__StepGapMinutes): must be from 1 to 1440. Fix: e.g. 5.")]
    public int StepGapMinutes { get; set; } = 5;

    /// <summary>The most events between two steps of a sequence (the next step is among the next this many events).</summary>
    [Range(1, 100, ErrorMessage = "Patterns:StepWindowEvents (env Patterns__StepWindowEvents): must be from 1 to 100. Fix: e.g. 10.")]
    public int StepWindowEvents { get; set; } = 10;

    /// <summary>Mining looks at the sessions that started within this many days.</summary>
    [Range(1, 365, ErrorMessage = "Patterns:LookbackDays (env Patterns__LookbackDays): must be from 1 to 365. Fix: e.g. 30.")]
    public int LookbackDays { get; set; } = 30;

    /// <summary>Sequences and co-occurrences: the distinct sessions they must appear in.</summary>
    [Range(2, 100_000, ErrorMessage = "Patterns:MinSessions (env Patterns__MinSessions): must be from 2 to 100000. Fix: e.g. 5.")]
    public int MinSessions { get; set; } = 5;

    /// <summary>Sequences and co-occurrences: the distinct days they must appear on.</summary>
    [Range(1, 365, ErrorMessage = "Patterns:MinDays (env Patterns__MinDays): must be from 1 to 365. Fix: e.g. 3.")]
    public int MinDays { get; set; } = 3;

    /// <summary>Sequences and co-occurrences: of the sessions with the first steps (the rarer file), the share that go on with the last one (have both); its three-sigma lower bound must reach this.</summary>
    [Range(0.01, 1.0, ErrorMessage = "Patterns:MinConfidence (env Patterns__MinConfidence): must be from 0.01 to 1. Fix: e.g. 0.5.")]
    public double MinConfidence { get; set; } = 0.5;

    /// <summary>Sequences: how many times likelier than chance the last step follows the first ones.</summary>
    [Range(1.0, 1000.0, ErrorMessage = "Patterns:MinLift (env Patterns__MinLift): must be from 1 to 1000. Fix: e.g. 2.")]
    public double MinLift { get; set; } = 2.0;

    /// <summary>Co-occurrences: how many times likelier than chance two files are touched in the same session.</summary>
    [Range(1.0, 1000.0, ErrorMessage = "Patterns:CoOccurrenceMinLift (env Patterns__CoOccurrenceMinLift): must be from 1 to 1000. Fix: e.g. 2.")]
    public double CoOccurrenceMinLift { get; set; } = 2.0;

    /// <summary>A file stands for itself (not its directory template) when it recurs and holds this share of its template's sessions.</summary>
    [Range(0.01, 1.0, ErrorMessage = "Patterns:ExactFileShare (env Patterns__ExactFileShare): must be from 0.01 to 1. Fix: e.g. 0.5.")]
    public double ExactFileShare { get; set; } = 0.5;

    /// <summary>Schedules: the distinct days an action must recur on within the time window.</summary>
    [Range(2, 365, ErrorMessage = "Patterns:ScheduleMinDays (env Patterns__ScheduleMinDays): must be from 2 to 365. Fix: e.g. 5.")]
    public int ScheduleMinDays { get; set; } = 5;

    /// <summary>Schedules: the width of the time-of-day window the occurrences must fall in.</summary>
    [Range(5, 240, ErrorMessage = "Patterns:ScheduleWindowMinutes (env Patterns__ScheduleWindowMinutes): must be from 5 to 240. Fix: e.g. 30.")]
    public int ScheduleWindowMinutes { get; set; } = 30;

    /// <summary>Schedules: the share of the source's working days (on the schedule's weekdays) that had the action in the window.</summary>
    [Range(0.01, 1.0, ErrorMessage = "Patterns:ScheduleMinConfidence (env Patterns__ScheduleMinConfidence): must be from 0.01 to 1. Fix: e.g. 0.6.")]
    public double ScheduleMinConfidence { get; set; } = 0.6;

    /// <summary>Schedules: how many times more of the action's days fall in the window than if it were spread like the rest of the source's work.</summary>
    [Range(1.0, 1000.0, ErrorMessage = "Patterns:ScheduleMinLift (env Patterns__ScheduleMinLift): must be from 1 to 1000. Fix: e.g. 3.")]
    public double ScheduleMinLift { get; set; } = 3.0;

    /// <summary>The time zone schedules are found in and their cron expressions written for (IANA).</summary>
    [Required(ErrorMessage = "Patterns:TimeZone (env Patterns__TimeZone): required. Fix: e.g. UTC or Europe/Berlin.")]
    public string TimeZone { get; set; } = "UTC";

    /// <summary>The most patterns of each kind kept per organization (the strongest).</summary>
    [Range(1, 10_000, ErrorMessage = "Patterns:MaxPatternsPerKind (env Patterns__MaxPatternsPerKind): must be from 1 to 10000. Fix: e.g. 200.")]
    public int MaxPatternsPerKind { get; set; } = 200;

    /// <summary>Longer sessions are cut into pieces of this many events, which bounds the work per session.</summary>
    [Range(10, 100_000, ErrorMessage = "Patterns:MaxSessionEvents (env Patterns__MaxSessionEvents): must be from 10 to 100000. Fix: e.g. 5000.")]
    public int MaxSessionEvents { get; set; } = 5000;

    /// <summary>How long list and overview answers stay in Redis at most (they are also dropped on every change).</summary>
    [Range(1, 3600, ErrorMessage = "Patterns:CacheSeconds (env Patterns__CacheSeconds): must be from 1 to 3600. Fix: e.g. 60.")]
    public int CacheSeconds { get; set; } = 60;

    public TimeSpan SessionGap => TimeSpan.FromMinutes(SessionGapMinutes);
    public TimeZoneInfo Zone => TimeZoneInfo.FindSystemTimeZoneById(TimeZone);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(TimeZone ?? "", out _))
        {
            yield return new ValidationResult($"Patterns:TimeZone (env Patterns__TimeZone): '{TimeZone}' is not an IANA time zone. Fix: e.g. UTC or Europe/Berlin.", [nameof(TimeZone)]);
        }
    }
}
