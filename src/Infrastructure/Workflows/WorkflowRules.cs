using System.Data.Common;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Dapper;
using Service.Infrastructure.Events;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// Everything a definition must satisfy before it is saved, each problem a field error naming where it is
/// (<c>steps[3].input.body</c>). What needs the database (integrations of the organization) is
/// <see cref="CheckIntegrationsAsync"/>.
/// </summary>
public static partial class WorkflowRules
{
    public const int MaxSteps = 50;
    public const int MaxDefinitionBytes = 256 * 1024;
    public const int MaxDebounceSeconds = 3600;
    public const int MaxRunTimeoutSeconds = 7 * 24 * 3600;
    public const int DefaultRunTimeoutSeconds = 3600;
    public const int MaxStepTimeoutSeconds = 3600;
    public const int MaxDelaySeconds = 7 * 24 * 3600;
    public static readonly string[] Roles = ["viewer", "member", "admin", "owner"];

    public static CompiledWorkflow? Compile(WorkflowDefinition? definition, Dictionary<string, string[]> errors)
    {
        if (definition is null)
        {
            errors["definition"] = ["A workflow definition is required."];
            return null;
        }
        if (Encoding.UTF8.GetByteCount(JsonSerializer.Serialize(definition, JsonSerializerOptions.Web)) > MaxDefinitionBytes)
        {
            errors["definition"] = [$"A definition is at most {MaxDefinitionBytes / 1024} KiB."];
            return null;
        }
        void Add(string field, string message) => errors[field] = errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];

        if (string.IsNullOrWhiteSpace(definition.Name) || definition.Name.Trim().Length > 200 || HasControl(definition.Name)) Add("name", "1 to 200 characters, no control characters.");
        if (definition.Description is { Length: > 2000 }) Add("description", "At most 2000 characters.");

        var trigger = definition.Trigger;
        WorkflowSchedule? schedule = null;
        if (trigger is null || !WorkflowTriggerTypes.All.Contains(trigger.Type)) Add("trigger.type", $"One of {string.Join(", ", WorkflowTriggerTypes.All)}.");
        else if (trigger.Type == WorkflowTriggerTypes.Event)
        {
            if (trigger.EventTypes is not { Count: > 0 } types || types.Any(t => !EventTypes.All.Contains(t)))
            {
                Add("trigger.eventTypes", $"One or more of {string.Join(", ", EventTypes.All)}.");
            }
            if (trigger.PathGlob is not null && PathGlob.Problem(trigger.PathGlob) is { } globProblem) Add("trigger.pathGlob", globProblem);
            if (trigger.Tool is { Length: 0 or > 200 }) Add("trigger.tool", "1 to 200 characters.");
            if (trigger.Source is not null && !Guid.TryParse(trigger.Source, out _)) Add("trigger.source", "The id of an API key or a user.");
            if (trigger.DebounceSeconds is < 0 or > MaxDebounceSeconds) Add("trigger.debounceSeconds", $"From 0 to {MaxDebounceSeconds}.");
        }
        else if (trigger.Type == WorkflowTriggerTypes.Schedule)
        {
            schedule = WorkflowSchedule.Parse(trigger.Cron, trigger.TimeZone, out var cronError, out var zoneError);
            if (cronError is not null) Add("trigger.cron", cronError);
            if (zoneError is not null) Add("trigger.timeZone", zoneError);
        }
        var triggerType = trigger?.Type ?? "";

        WorkflowExpression? condition = null;
        if (!string.IsNullOrWhiteSpace(definition.Condition))
        {
            condition = WorkflowExpression.Parse(definition.Condition, out var error);
            if (error is not null) Add("condition", error.ToString());
            else CheckVariables(condition!.Variables, "condition", triggerType, [], errors);
        }

        var steps = new List<CompiledStep>();
        if (definition.Steps is not { Count: > 0 } items || items.Count > MaxSteps)
        {
            Add("steps", $"1 to {MaxSteps} steps.");
        }
        else
        {
            var earlier = new List<string>();
            for (var i = 0; i < items.Count; i++)
            {
                if (CompileStep(items[i], i, triggerType, earlier, errors) is { } step) steps.Add(step);
                if (items[i]?.Name is { } name) earlier.Add(name);
            }
        }

        var settings = definition.Settings ?? new WorkflowSettings();
        if (settings.RunTimeoutSeconds is < 1 or > MaxRunTimeoutSeconds) Add("settings.runTimeoutSeconds", $"From 1 to {MaxRunTimeoutSeconds} (7 days).");
        if (settings.MaxConcurrentRuns is < 1 or > 100) Add("settings.maxConcurrentRuns", "From 1 to 100.");
        Guid? failureIntegration = null;
        if (settings.OnFailure?.IntegrationId is { } failureId)
        {
            if (Guid.TryParse(failureId, out var parsed)) failureIntegration = parsed;
            else Add("settings.onFailure.integrationId", "The id of an integration of this organization.");
        }

        if (errors.Count > 0) return null;
        return new CompiledWorkflow(definition with { Name = definition.Name!.Trim() }, triggerType, condition, steps, schedule,
            TimeSpan.FromSeconds(settings.RunTimeoutSeconds ?? DefaultRunTimeoutSeconds), settings.MaxConcurrentRuns ?? 10,
            settings.OnFailure?.NotifyOwner ?? true, failureIntegration);
    }

    private static CompiledStep? CompileStep(WorkflowStep? step, int index, string triggerType, List<string> earlier, Dictionary<string, string[]> errors)
    {
        var prefix = $"steps[{index}]";
        var before = errors.Count;
        if (step is null)
        {
            errors[prefix] = ["Must be a step object."];
            return null;
        }
        if (step.Name is null || !StepName().IsMatch(step.Name)) errors[$"{prefix}.name"] = ["1 to 64 letters, digits or _, not starting with a digit."];
        else if (earlier.Contains(step.Name)) errors[$"{prefix}.name"] = ["Another step has this name."];
        if (!WorkflowStepTypes.All.Contains(step.Type)) errors[$"{prefix}.type"] = [$"One of {string.Join(", ", WorkflowStepTypes.All)}."];

        var input = step.Input is { } element ? JsonNode.Parse(element.GetRawText()) : null;
        if (input is not null and not JsonObject) errors[$"{prefix}.input"] = ["Must be a JSON object."];
        var inputObject = input as JsonObject ?? [];

        Guid? integrationId = null;
        switch (step.Type)
        {
            case WorkflowStepTypes.Webhook:
                if (Guid.TryParse(step.IntegrationId, out var id)) integrationId = id;
                else errors[$"{prefix}.integrationId"] = ["The id of an integration of this organization."];
                break;
            case WorkflowStepTypes.Notify:
                if (inputObject["title"] is not JsonValue title || title.GetValueKind() != JsonValueKind.String || title.GetValue<string>().Length is 0 or > 500)
                {
                    errors[$"{prefix}.input.title"] = ["A title of 1 to 500 characters (templates allowed)."];
                }
                var toRole = inputObject["toRole"];
                var toUsers = inputObject["toUserIds"];
                if (toRole is null && toUsers is null) errors[$"{prefix}.input"] = ["Name the recipients: toRole (viewer, member, admin, owner: that role and above) or toUserIds."];
                if (toRole is not null && (toRole is not JsonValue r || r.GetValueKind() != JsonValueKind.String || !Roles.Contains(r.GetValue<string>())))
                {
                    errors[$"{prefix}.input.toRole"] = [$"One of {string.Join(", ", Roles)}."];
                }
                if (toUsers is not null && (toUsers is not JsonArray users || users.Count is 0 or > 100 || users.Any(u => u is not JsonValue v || v.GetValueKind() != JsonValueKind.String)))
                {
                    errors[$"{prefix}.input.toUserIds"] = ["1 to 100 user ids (or templates giving them)."];
                }
                break;
            case WorkflowStepTypes.Delay:
                var seconds = inputObject["seconds"];
                var validSeconds = seconds is JsonValue s && (s.GetValueKind() == JsonValueKind.String
                    || (s.GetValueKind() == JsonValueKind.Number && WorkflowExpression.NumberOf(s) is >= 0 and <= MaxDelaySeconds));
                if (!validSeconds) errors[$"{prefix}.input.seconds"] = [$"A number of seconds from 0 to {MaxDelaySeconds} (or a template giving one)."];
                break;
        }

        WorkflowExpression? when = null;
        if (!string.IsNullOrWhiteSpace(step.When))
        {
            when = WorkflowExpression.Parse(step.When, out var error);
            if (error is not null) errors[$"{prefix}.when"] = [error.ToString()];
            else CheckVariables(when!.Variables, $"{prefix}.when", triggerType, earlier, errors);
        }

        var templateErrors = new List<TemplateError>();
        var variables = WorkflowTemplate.Check(input, $"{prefix}.input", templateErrors);
        foreach (var error in templateErrors) errors[error.Field] = [error.Message];
        if (templateErrors.Count == 0) CheckVariables(variables, null, triggerType, earlier, errors, $"{prefix}.input");

        if (step.TimeoutSeconds is < 1 or > MaxStepTimeoutSeconds) errors[$"{prefix}.timeoutSeconds"] = [$"From 1 to {MaxStepTimeoutSeconds}."];
        var retry = step.Retry ?? new StepRetry();
        if (retry.MaxAttempts is < 1 or > 10) errors[$"{prefix}.retry.maxAttempts"] = ["From 1 to 10."];
        if (retry.InitialDelayMilliseconds is < 10 or > 60_000) errors[$"{prefix}.retry.initialDelayMilliseconds"] = ["From 10 to 60000."];
        if (retry.MaxDelaySeconds is < 1 or > 3600) errors[$"{prefix}.retry.maxDelaySeconds"] = ["From 1 to 3600."];
        if (errors.Count > before) return null;

        var defaultTimeout = step.Type == WorkflowStepTypes.Webhook ? 30 : 10;
        return new CompiledStep(index, step.Name!, step.Type!, integrationId, input, when, TimeSpan.FromSeconds(step.TimeoutSeconds ?? defaultTimeout),
            retry.MaxAttempts ?? 1, TimeSpan.FromMilliseconds(retry.InitialDelayMilliseconds ?? 1000), TimeSpan.FromSeconds(retry.MaxDelaySeconds ?? 60),
            step.ContinueOnError ?? false);
    }

    /// <summary>Variables that can never have a value where they are used: event data without an event trigger, steps not yet run.</summary>
    private static void CheckVariables(IEnumerable<VariablePath> variables, string? field, string triggerType, List<string> earlierSteps,
        Dictionary<string, string[]> errors, string? fieldPrefix = null)
    {
        foreach (var variable in variables)
        {
            string? problem = null;
            if (variable.Root is "event" or "events" && triggerType != WorkflowTriggerTypes.Event)
            {
                problem = $"{variable} has no value: only event-triggered workflows have an event.";
            }
            else if (variable.StepName is { } stepName && !earlierSteps.Contains(stepName))
            {
                problem = $"{variable} refers to no earlier step: steps can read the outputs of the steps before them.";
            }
            if (problem is null) continue;
            var key = field ?? fieldPrefix!;
            errors[key] = errors.TryGetValue(key, out var existing) ? [.. existing, problem] : [problem];
        }
    }

    /// <summary>Every integration the definition calls must be a live integration of <paramref name="orgId"/>.</summary>
    public static async Task CheckIntegrationsAsync(DbConnection connection, Guid orgId, CompiledWorkflow workflow, Dictionary<string, string[]> errors,
        CancellationToken cancellationToken)
    {
        var named = workflow.Integrations().ToList();
        if (named.Count == 0) return;
        var found = (await connection.QueryAsync<Guid>(new CommandDefinition(
            "SELECT id FROM integrations WHERE org_id = @orgId AND id = ANY(@ids) AND deleted_at IS NULL",
            new { orgId, ids = named.Select(n => n.Id).Distinct().ToArray() }, cancellationToken: cancellationToken))).ToHashSet();
        foreach (var (field, id) in named.Where(n => !found.Contains(n.Id)))
        {
            errors[field] = ["No integration of this organization has this id."];
        }
    }

    private static bool HasControl(string value) => value.Any(char.IsControl);

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
    private static partial Regex StepName();
}
