using System.Text.Json;
using System.Text.Json.Nodes;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// A workflow as a client writes it, and as each version stores it. Every field is optional in the type so that a
/// missing one becomes a field error naming it (steps[2].name), not a bare "invalid JSON".
/// </summary>
public sealed record WorkflowDefinition(
    string? Name,
    string? Description,
    WorkflowTrigger? Trigger,
    string? Condition,
    IReadOnlyList<WorkflowStep?>? Steps,
    WorkflowSettings? Settings);

/// <param name="Type">event, schedule or manual.</param>
/// <param name="EventTypes">event: the event types that start it.</param>
/// <param name="PathGlob">event: only paths matching this glob (** spans directories).</param>
/// <param name="Tool">event: only events from this tool.</param>
/// <param name="Source">event: only events from this source (an API key's or a user's id).</param>
/// <param name="DebounceSeconds">event: matching events within this window after the first start one run carrying all of them.</param>
/// <param name="Cron">schedule: 5 fields (minute hour day month weekday), or 6 with seconds first.</param>
/// <param name="TimeZone">schedule: an IANA time zone such as Europe/Berlin (default UTC).</param>
public sealed record WorkflowTrigger(
    string? Type,
    IReadOnlyList<string>? EventTypes = null,
    string? PathGlob = null,
    string? Tool = null,
    string? Source = null,
    int? DebounceSeconds = null,
    string? Cron = null,
    string? TimeZone = null);

/// <param name="Type">webhook, notify or delay.</param>
/// <param name="IntegrationId">webhook: the organization's integration to call.</param>
/// <param name="Input">
/// webhook: {"body": any JSON}; notify: {"title", "body", "toRole" or "toUserIds"}; delay: {"seconds"}.
/// Every string in it may hold templates.
/// </param>
/// <param name="When">A condition; when false the step is skipped.</param>
/// <param name="ContinueOnError">When the step fails, go on with the next step instead of failing the run.</param>
public sealed record WorkflowStep(
    string? Name,
    string? Type,
    string? IntegrationId = null,
    JsonElement? Input = null,
    string? When = null,
    int? TimeoutSeconds = null,
    StepRetry? Retry = null,
    bool? ContinueOnError = null);

/// <summary>Attempts 1-10; waits grow from the initial delay, doubling, up to the max delay, with full jitter.</summary>
public sealed record StepRetry(int? MaxAttempts = null, int? InitialDelayMilliseconds = null, int? MaxDelaySeconds = null);

/// <param name="RunTimeoutSeconds">From the run's start to its end, delays included.</param>
/// <param name="MaxConcurrentRuns">Started runs of this workflow not yet finished; more wait queued.</param>
public sealed record WorkflowSettings(int? RunTimeoutSeconds = null, int? MaxConcurrentRuns = null, FailureAction? OnFailure = null);

/// <param name="NotifyOwner">Notify the workflow's owner (its creator) when a run fails or times out. Default true.</param>
/// <param name="IntegrationId">Also send workflow.run.failed to this integration.</param>
public sealed record FailureAction(bool? NotifyOwner = null, string? IntegrationId = null);

public static class WorkflowTriggerTypes
{
    public const string Event = "event", Schedule = "schedule", Manual = "manual";
    public static readonly string[] All = [Event, Schedule, Manual];
}

public static class WorkflowStepTypes
{
    public const string Webhook = "webhook", Notify = "notify", Delay = "delay";
    public static readonly string[] All = [Webhook, Notify, Delay];
}

/// <summary>A step ready to run: its definition with defaults applied and its condition parsed.</summary>
public sealed record CompiledStep(int Index, string Name, string Type, Guid? IntegrationId, JsonNode? Input, WorkflowExpression? When,
    TimeSpan Timeout, int MaxAttempts, TimeSpan InitialDelay, TimeSpan MaxDelay, bool ContinueOnError);

/// <summary>A definition that passed <see cref="WorkflowRules"/>, with everything parsed once.</summary>
public sealed record CompiledWorkflow(
    WorkflowDefinition Definition,
    string TriggerType,
    WorkflowExpression? Condition,
    IReadOnlyList<CompiledStep> Steps,
    WorkflowSchedule? Schedule,
    TimeSpan RunTimeout,
    int MaxConcurrentRuns,
    bool NotifyOwnerOnFailure,
    Guid? FailureIntegrationId)
{
    /// <summary>Every integration the definition calls, with the field that names it (checked against the org by the caller).</summary>
    public IEnumerable<(string Field, Guid Id)> Integrations()
    {
        foreach (var step in Steps)
        {
            if (step.IntegrationId is { } id) yield return ($"steps[{step.Index}].integrationId", id);
        }
        if (FailureIntegrationId is { } failure) yield return ("settings.onFailure.integrationId", failure);
    }
}
