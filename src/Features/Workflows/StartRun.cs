using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Service.Infrastructure.Security;
using Service.Infrastructure.Workflows;

namespace Service.Features.Workflows;

/// <param name="Input">Any JSON (at most 64 KiB): the run's <c>input</c> variable.</param>
public sealed record StartRunRequest(JsonElement? Input);

/// <summary>
/// Runs a workflow now, by hand, with the current version (enabled or not: enabling governs only its automatic
/// triggers). 202 with the queued run; Location is where to follow it.
/// </summary>
public static class StartRun
{
    public const int MaxInputBytes = 64 * 1024;

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/{workflowId:guid}/runs", Handle)
            .WithName("StartRun")
            .WithSummary("Run a workflow now")
            .RequireOrgRole(OrgRole.Member);

    public static async Task<Results<Accepted<RunResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, Guid workflowId, [FromBody(EmptyBodyBehavior = EmptyBodyBehavior.Allow)] StartRunRequest? request, ClaimsPrincipal user,
        [AsParameters] WorkflowServices services, CancellationToken cancellationToken)
    {
        var input = request?.Input is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } element ? element.GetRawText() : null;
        if (input is { Length: > MaxInputBytes }) return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["input"] = [$"At most {MaxInputBytes / 1024} KiB."] });

        await using var connection = await services.DataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await WorkflowRow.FindAsync(connection, orgId, workflowId, transaction, cancellationToken) is not { } workflow) return WorkflowProblems.NotFound();
        // A stored version that no longer compiles still gets its run, which fails visibly (definition_missing).
        var timeout = services.Versions.Remember(workflow.Id, workflow.Version, workflow.Definition)?.RunTimeout
            ?? TimeSpan.FromSeconds(WorkflowRules.DefaultRunTimeoutSeconds);
        var userId = user.RequiredUserId();
        var queued = await RunQueue.EnqueueAsync(connection, transaction, new NewRun(orgId, workflowId, workflow.Version, WorkflowTriggerTypes.Manual,
            new JsonObject { ["type"] = WorkflowTriggerTypes.Manual, ["userId"] = userId.ToString() }, input is null ? null : JsonNode.Parse(input),
            timeout, CreatedBy: userId), cancellationToken);
        var run = (await RunQueries.FindAsync(connection, orgId, queued!.Value, transaction, cancellationToken))!;
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Accepted(RunQueries.Location(orgId, run.Id), run.ToResponse());
    }
}
