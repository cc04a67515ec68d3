using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json;
using Dapper;

namespace Service.Infrastructure.Workflows;

/// <summary>
/// Compiled workflow versions, read from workflow_versions once per instance: a version never changes after it is
/// saved, so the cache needs no invalidation (only a bound on its size).
/// </summary>
public sealed class WorkflowVersions
{
    private const int MaxCached = 10_000;
    private readonly ConcurrentDictionary<(Guid WorkflowId, int Version), CompiledWorkflow> _cache = new();

    public CompiledWorkflow? Cached(Guid workflowId, int version) => _cache.GetValueOrDefault((workflowId, version));

    /// <summary>The compiled version, or null if it does not exist (or no longer passes the rules).</summary>
    public async Task<CompiledWorkflow?> GetAsync(DbConnection connection, Guid workflowId, int version, CancellationToken cancellationToken)
    {
        if (_cache.TryGetValue((workflowId, version), out var cached)) return cached;
        var json = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT definition::text FROM workflow_versions WHERE workflow_id = @workflowId AND version = @version",
            new { workflowId, version }, cancellationToken: cancellationToken));
        return json is null ? null : Remember(workflowId, version, json);
    }

    /// <summary>Compiles a stored definition (for callers that read it along with other columns).</summary>
    public CompiledWorkflow? Remember(Guid workflowId, int version, string definitionJson)
    {
        if (_cache.TryGetValue((workflowId, version), out var cached)) return cached;
        var compiled = WorkflowRules.Compile(JsonSerializer.Deserialize<WorkflowDefinition>(definitionJson, JsonSerializerOptions.Web), []);
        if (compiled is null) return null;
        if (_cache.Count >= MaxCached) _cache.Clear();
        _cache[(workflowId, version)] = compiled;
        return compiled;
    }
}
