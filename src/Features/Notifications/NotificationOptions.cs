using System.ComponentModel.DataAnnotations;

namespace Service.Features.Notifications;

public sealed class NotificationOptions
{
    public const string Section = "Notifications";

    /// <summary>Notifications older than this are deleted, read or not.</summary>
    [Range(1, 3650, ErrorMessage = "Notifications:RetentionDays (env Notifications__RetentionDays): must be from 1 to 3650. Fix: e.g. 90.")]
    public int RetentionDays { get; set; } = 90;

    [Range(10, 86_400, ErrorMessage = "Notifications:RetentionIntervalSeconds (env Notifications__RetentionIntervalSeconds): must be from 10 to 86400. Fix: e.g. 3600.")]
    public int RetentionIntervalSeconds { get; set; } = 3600;
}
