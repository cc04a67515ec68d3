using Cronos;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// A cron schedule in a time zone, computed by Cronos. Around daylight-saving changes (documented in the README and
/// tested for Europe/Berlin): a fire time inside the skipped hour of spring-forward happens at the first instant
/// after the gap (02:30 becomes 03:00 local); in the repeated hour of fall-back a fire at a fixed time happens once
/// (the first 02:30), while schedules that step through every hour or minute fire in both copies of the hour, since
/// each is a distinct instant.
/// </summary>
public sealed class WorkflowSchedule
{
    private readonly CronExpression _cron;

    public TimeZoneInfo Zone { get; }

    private WorkflowSchedule(CronExpression cron, TimeZoneInfo zone) => (_cron, Zone) = (cron, zone);

    public static WorkflowSchedule? Parse(string? cron, string? timeZone, out string? cronError, out string? zoneError)
    {
        cronError = zoneError = null;
        CronExpression? expression = null;
        var fields = cron?.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length ?? 0;
        if (string.IsNullOrWhiteSpace(cron)) cronError = "A cron expression is required, e.g. \"0 9 * * 1-5\".";
        else if (cron.Length > 200) cronError = "At most 200 characters.";
        else if (fields is not (5 or 6)) cronError = $"A cron expression has 5 fields (minute hour day month weekday), or 6 with seconds first; this one has {fields}.";
        else
        {
            try
            {
                expression = CronExpression.Parse(cron.Trim(), fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
            }
            catch (CronFormatException e)
            {
                cronError = $"Not a valid cron expression: {e.Message}";
            }
        }
        var zone = FindZone(timeZone ?? "UTC", out zoneError);
        return expression is not null && zone is not null ? new WorkflowSchedule(expression, zone) : null;
    }

    /// <summary>IANA names only (Europe/Berlin, UTC): what the frontend's Intl API gives, and the same on every OS.</summary>
    private static TimeZoneInfo? FindZone(string name, out string? error)
    {
        error = null;
        if (name.Length is > 0 and <= 100 && (name == "UTC" || name.Contains('/')) && !name.Contains(".."))
        {
            try
            {
                return TimeZoneInfo.FindSystemTimeZoneById(name);
            }
            catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
            {
            }
        }
        error = $"'{(name.Length > 100 ? name[..100] + "..." : name)}' is not a known IANA time zone, e.g. Europe/Berlin or UTC.";
        return null;
    }

    /// <summary>The first fire strictly after <paramref name="after"/> (in UTC), or null if the expression never fires again.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset after) => _cron.GetNextOccurrence(after, Zone)?.ToUniversalTime();

    /// <summary>The fires in (<paramref name="after"/>, <paramref name="through"/>], oldest first, at most <paramref name="limit"/>.</summary>
    public IEnumerable<DateTimeOffset> Between(DateTimeOffset after, DateTimeOffset through, int limit)
    {
        var count = 0;
        for (var next = NextAfter(after); next is { } fire && fire <= through && count < limit; next = NextAfter(fire), count++)
        {
            yield return fire;
        }
    }
}
