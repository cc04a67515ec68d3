using System.Text.Json;
using System.Text.Json.Nodes;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <param name="SampleEvent">An event as triggers see it ({"type", "path", "tool", "metadata", ...}): the dry run's <c>event</c>.</param>
/// <param name="Input">A manual run's input, for the dry run's <c>input</c>.</param>
public sealed record ValidateWorkflowRequest(WorkflowDefinition? Definition, JsonElement? SampleEvent, JsonElement? Input);

/// <summary>The verdict; with a valid definition, also what a run would do with the sample (nothing is called or saved).</summary>
public sealed record ValidateWorkflowResponse(bool Valid, IDictionary<string, string[]> Errors, DryRunValue? Condition, IReadOnlyList<DryRunStep>? Steps);

/// <summary>A condition's value in the dry run, or why it has none.</summary>
public sealed record DryRunValue(bool? Value, string? Error);

/// <param name="When">The step's condition, when it has one.</param>
/// <param name="Input">The rendered input, as the step would send it.</param>
public sealed record DryRunStep(int Index, string Name, string Type, DryRunValue? When, JsonElement? Input, string? Error);

/// <summary>
/// Checks a definition without saving it: every rule of create (condition errors with their position, unknown
/// variables, unknown integrations, invalid cron or time zone), then a dry run against the sample event and input:
/// the condition's value and each step's rendered input. Later steps' outputs are unknown in a dry run.
/// </summary>
public static class ValidateWorkflow
{
    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/validate", Handle)
            .WithName("ValidateWorkflow")
            .WithSummary("Check a workflow definition and dry-run it on a sample event")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Ok<ValidateWorkflowResponse>> Handle(
        Guid orgId, ValidateWorkflowRequest request, [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        var compiled = WorkflowRules.Compile(request.Definition, errors);
        if (compiled is not null)
        {
            await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
            await WorkflowRules.CheckIntegrationsAsync(connection, orgId, compiled, errors, cancellationToken);
        }
        if (compiled is null || errors.Count > 0) return TypedResults.Ok(new ValidateWorkflowResponse(false, errors, null, null));

        var sample = request.SampleEvent is { ValueKind: JsonValueKind.Object } e ? JsonNode.Parse(e.GetRawText()) : null;
        var trigger = new JsonObject { ["type"] = compiled.TriggerType, ["dryRun"] = true };
        if (sample is not null) trigger["events"] = new JsonArray(sample);
        var input = request.Input is { ValueKind: not JsonValueKind.Undefined } i ? JsonNode.Parse(i.GetRawText()) : null;
        var scope = RunScope.Create(trigger, input, new JsonObject { ["id"] = Guid.Empty.ToString(), ["dryRun"] = true });

        DryRunValue? condition = null;
        if (compiled.Condition is { } expression)
        {
            var (value, error) = expression.Test(scope);
            condition = new DryRunValue(error is null ? value : null, error);
        }
        var steps = compiled.Steps.Select(step =>
        {
            DryRunValue? when = null;
            if (step.When is { } w)
            {
                var (value, error) = w.Test(scope);
                when = new DryRunValue(error is null ? value : null, error);
            }
            var (rendered, templateError) = WorkflowTemplate.Render(step.Input, scope, $"steps[{step.Index}].input");
            return new DryRunStep(step.Index, step.Name, step.Type, when, rendered is null ? null : JsonDocument.Parse(rendered.ToJsonString()).RootElement.Clone(),
                templateError is null ? null : $"{templateError.Field}: {templateError.Message}");
        }).ToList();
        return TypedResults.Ok(new ValidateWorkflowResponse(true, errors, condition, steps));
    }
}
