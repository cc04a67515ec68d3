using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.Events;

public sealed class EventOptions
{
    public const string Section = "Events";
    public const int BatchCeiling = 1000;

    [Range(1, BatchCeiling, ErrorMessage = "Events:MaxBatchSize (env Events__MaxBatchSize): must be from 1 to 1000. Fix: e.g. 1000.")]
    public int MaxBatchSize { get; set; } = BatchCeiling;

    /// <summary>Events older than this are refused on ingest and deleted by the retention job.</summary>
    [Range(1, 3650, ErrorMessage = "Events:RetentionDays (env Events__RetentionDays): must be from 1 to 3650. Fix: e.g. 90.")]
    public int RetentionDays { get; set; } = 90;

    [Range(1, 86400, ErrorMessage = "Events:RetentionIntervalSeconds (env Events__RetentionIntervalSeconds): must be from 1 to 86400. Fix: e.g. 3600.")]
    public int RetentionIntervalSeconds { get; set; } = 3600;

    /// <summary>Rows one retention DELETE removes at most: short transactions, no long locks, little WAL at once.</summary>
    [Range(1, 100_000, ErrorMessage = "Events:RetentionBatchSize (env Events__RetentionBatchSize): must be from 1 to 100000. Fix: e.g. 5000.")]
    public int RetentionBatchSize { get; set; } = 5000;
}
