using Service.Infrastructure.Workflows;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>
/// Fire times around daylight-saving changes in Europe/Berlin (2026: clocks go 02:00 → 03:00 on 29 March, and
/// 03:00 → 02:00 on 25 October), as the README documents them.
/// </summary>
public sealed class WorkflowScheduleTests
{
    private static WorkflowSchedule Berlin(string cron)
    {
        var schedule = WorkflowSchedule.Parse(cron, "Europe/Berlin", out var cronError, out var zoneError);
        Assert.Null(cronError);
        Assert.Null(zoneError);
        return schedule!;
    }

    private static List<DateTimeOffset> Fires(WorkflowSchedule schedule, string fromUtc, string toUtc) =>
        schedule.Between(DateTimeOffset.Parse(fromUtc), DateTimeOffset.Parse(toUtc), 100).ToList();

    [Fact]
    public void Weekday_mornings_follow_local_time_across_the_change()
    {
        var fires = Fires(Berlin("0 9 * * 1-5"), "2026-03-26T00:00:00Z", "2026-03-31T00:00:00Z");
        // Thursday and Friday at 09:00 CET (08:00Z), Monday and Tuesday at 09:00 CEST (07:00Z); no weekend.
        Assert.Equal(["2026-03-26T08:00:00Z", "2026-03-27T08:00:00Z", "2026-03-30T07:00:00Z"], fires.Select(f => f.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ")));
    }

    [Fact]
    public void A_fire_inside_the_skipped_spring_hour_happens_right_after_the_gap()
    {
        var fires = Fires(Berlin("30 2 * * *"), "2026-03-28T00:00:00Z", "2026-03-30T12:00:00Z");
        Assert.Equal(["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"], fires.Select(f => f.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ")));
        Assert.Equal(TimeSpan.FromHours(2), TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin").GetUtcOffset(fires[1])); // 03:00 local, the first instant after the gap
    }

    [Fact]
    public void A_fixed_time_in_the_repeated_autumn_hour_fires_once()
    {
        var fires = Fires(Berlin("30 2 * * *"), "2026-10-24T12:00:00Z", "2026-10-26T12:00:00Z");
        // 02:30 CEST (00:30Z) only, not again at 02:30 CET (01:30Z).
        Assert.Equal(["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"], fires.Select(f => f.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ")));
    }

    [Fact]
    public void A_schedule_stepping_through_the_repeated_hour_fires_in_both_copies()
    {
        var fires = Fires(Berlin("0,30 * * * *"), "2026-10-24T23:45:00Z", "2026-10-25T01:45:00Z");
        // 02:00 and 02:30 CEST, then 02:00 and 02:30 CET: four distinct instants, half an hour apart.
        Assert.Equal(["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z"],
            fires.Select(f => f.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ")));
    }

    [Theory]
    [InlineData("0 9 * * 1-5", null, null)]
    [InlineData("*/5 * * * * *", null, null)]
    [InlineData("0 9 * *", "5 fields", null)]
    [InlineData("61 9 * * *", "Not a valid cron expression", null)]
    [InlineData("0 9 * * *", null, "Mars/Olympus")]
    [InlineData("0 9 * * *", null, "../../etc/passwd")]
    [InlineData("0 9 * * *", null, "Central European Standard Time")]
    public void Rejects_invalid_cron_and_unknown_zones(string cron, string? cronMessage, string? zone)
    {
        var schedule = WorkflowSchedule.Parse(cron, zone ?? "UTC", out var cronError, out var zoneError);
        if (cronMessage is not null) Assert.Contains(cronMessage, cronError);
        else Assert.Null(cronError);
        Assert.Equal(zone is null, zoneError is null);
        Assert.Equal(cronError is null && zoneError is null, schedule is not null);
    }
}
