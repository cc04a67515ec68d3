using System.ComponentModel.DataAnnotations;

namespace Service.Infrastructure.Workflows;

/// <summary>How runs are executed, scheduled and kept.</summary>
public sealed class WorkflowOptions
{
    public const string Section = "Workflows";

    /// <summary>Runs one instance executes at the same time (a run waiting in a delay or a retry holds none).</summary>
    [Range(1, 512, ErrorMessage = "Workflows:WorkersPerInstance (env Workflows__WorkersPerInstance): must be from 1 to 512. Fix: e.g. 16.")]
    public int WorkersPerInstance { get; set; } = 16;

    /// <summary>Runs of one organization executing at the same time across all instances, so one tenant cannot starve the others.</summary>
    [Range(1, 10_000, ErrorMessage = "Workflows:MaxRunningPerOrg (env Workflows__MaxRunningPerOrg): must be from 1 to 10000. Fix: e.g. 20.")]
    public int MaxRunningPerOrg { get; set; } = 20;

    /// <summary>A claimed run is another instance's to take this long after its worker stops renewing (a crash).</summary>
    [Range(2, 600, ErrorMessage = "Workflows:LeaseSeconds (env Workflows__LeaseSeconds): must be from 2 to 600. Fix: e.g. 15.")]
    public int LeaseSeconds { get; set; } = 15;

    /// <summary>How often workers look for due runs when no wake-up arrives (a new run wakes them at once).</summary>
    [Range(10, 60_000, ErrorMessage = "Workflows:PollIntervalMilliseconds (env Workflows__PollIntervalMilliseconds): must be from 10 to 60000. Fix: e.g. 500.")]
    public int PollIntervalMilliseconds { get; set; } = 500;

    /// <summary>Fires of a schedule missed while no instance ran are still run if they are at most this old; older ones are recorded as skipped.</summary>
    [Range(0, 86_400, ErrorMessage = "Workflows:MisfireGraceSeconds (env Workflows__MisfireGraceSeconds): must be from 0 to 86400. Fix: e.g. 60.")]
    public int MisfireGraceSeconds { get; set; } = 60;

    /// <summary>At most this many events ride on one run (a debounced burst); the run's trigger counts the rest.</summary>
    [Range(1, 1000, ErrorMessage = "Workflows:MaxEventsPerRun (env Workflows__MaxEventsPerRun): must be from 1 to 1000. Fix: e.g. 100.")]
    public int MaxEventsPerRun { get; set; } = 100;

    /// <summary>A webhook step's response body is read up to this size and exposed to later steps (parsed when JSON).</summary>
    [Range(1024, 1_048_576, ErrorMessage = "Workflows:MaxResponseBytes (env Workflows__MaxResponseBytes): must be from 1024 to 1048576. Fix: e.g. 65536.")]
    public int MaxResponseBytes { get; set; } = 64 * 1024;

    /// <summary>Finished runs older than this are deleted by the retention job.</summary>
    [Range(1, 3650, ErrorMessage = "Workflows:RunRetentionDays (env Workflows__RunRetentionDays): must be from 1 to 3650. Fix: e.g. 30.")]
    public int RunRetentionDays { get; set; } = 30;

    /// <summary>Beyond this many finished runs of one workflow, the oldest are deleted by the retention job.</summary>
    [Range(1, 1_000_000, ErrorMessage = "Workflows:KeepRunsPerWorkflow (env Workflows__KeepRunsPerWorkflow): must be from 1 to 1000000. Fix: e.g. 1000.")]
    public int KeepRunsPerWorkflow { get; set; } = 1000;

    [Range(1, 86_400, ErrorMessage = "Workflows:RetentionIntervalSeconds (env Workflows__RetentionIntervalSeconds): must be from 1 to 86400. Fix: e.g. 3600.")]
    public int RetentionIntervalSeconds { get; set; } = 3600;

    /// <summary>The Redis channel on which cancel requests reach the instance running the run.</summary>
    [Required(ErrorMessage = "Workflows:CancelChannel (env Workflows__CancelChannel) is required. Fix: e.g. workflows:cancel.")]
    public string CancelChannel { get; set; } = "workflows:cancel";

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);
    public TimeSpan PollInterval => TimeSpan.FromMilliseconds(PollIntervalMilliseconds);
}
