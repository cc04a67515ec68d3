using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.Streaming;

/// <summary>The live stream (GET /api/v1/stream): caps, timings, replay bounds and the Redis names it uses.</summary>
public sealed class StreamOptions
{
    public const string Section = "Stream";

    /// <summary>Open streams one user may hold across all instances; the next one gets 429.</summary>
    [Range(1, 10_000, ErrorMessage = "Stream:MaxStreamsPerUser (env Stream__MaxStreamsPerUser): must be from 1 to 10000. Fix: e.g. 5.")]
    public int MaxStreamsPerUser { get; set; } = 5;

    /// <summary>A comment line this often keeps proxies from closing an idle stream.</summary>
    [Range(1, 300, ErrorMessage = "Stream:HeartbeatSeconds (env Stream__HeartbeatSeconds): must be from 1 to 300. Fix: e.g. 15.")]
    public int HeartbeatSeconds { get; set; } = 15;

    /// <summary>The `retry:` hint: how long a browser waits before reconnecting.</summary>
    [Range(100, 600_000, ErrorMessage = "Stream:RetryMilliseconds (env Stream__RetryMilliseconds): must be from 100 to 600000. Fix: e.g. 3000.")]
    public int RetryMilliseconds { get; set; } = 3000;

    /// <summary>
    /// Each instance compares its streams with PostgreSQL this often, so an event whose announcement was lost (Redis
    /// down, a publisher that crashed after commit) still arrives, late by at most this much.
    /// </summary>
    [Range(1, 300, ErrorMessage = "Stream:CatchUpSeconds (env Stream__CatchUpSeconds): must be from 1 to 300. Fix: e.g. 5.")]
    public int CatchUpSeconds { get; set; } = 5;

    /// <summary>A resuming client gets what it missed if it is no older than this; otherwise a stream.reset event.</summary>
    [Range(1, 168, ErrorMessage = "Stream:ReplayHours (env Stream__ReplayHours): must be from 1 to 168. Fix: e.g. 24.")]
    public int ReplayHours { get; set; } = 24;

    /// <summary>...and if it is no more than this many events.</summary>
    [Range(1, 100_000, ErrorMessage = "Stream:ReplayMaxEvents (env Stream__ReplayMaxEvents): must be from 1 to 100000. Fix: e.g. 1000.")]
    public int ReplayMaxEvents { get; set; } = 1000;

    /// <summary>A ticket from POST /api/v1/stream/tickets opens one stream within this many seconds.</summary>
    [Range(5, 600, ErrorMessage = "Stream:TicketSeconds (env Stream__TicketSeconds): must be from 5 to 600. Fix: e.g. 60.")]
    public int TicketSeconds { get; set; } = 60;

    /// <summary>The Redis channel every instance subscribes to once.</summary>
    [Required(ErrorMessage = "Stream:Channel (env Stream__Channel): is empty. Fix: e.g. stream:events.")]
    public string Channel { get; set; } = "stream:events";

    /// <summary>Prefix of the Redis keys that count each user's open streams.</summary>
    [Required(ErrorMessage = "Stream:KeyPrefix (env Stream__KeyPrefix): is empty. Fix: e.g. stream.")]
    public string KeyPrefix { get; set; } = "stream";

    /// <summary>How often the stream log and used tickets are pruned (one instance at a time).</summary>
    [Range(10, 86_400, ErrorMessage = "Stream:RetentionIntervalSeconds (env Stream__RetentionIntervalSeconds): must be from 10 to 86400. Fix: e.g. 600.")]
    public int RetentionIntervalSeconds { get; set; } = 600;
}
