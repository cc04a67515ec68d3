using System.Data.Common;
using System.Text.Json;
using Dapper;

namespace Service.Infrastructure.Workflows;

/// <summary>Saving a new workflow, which both creating one and accepting a suggestion do.</summary>
public static class WorkflowStore
{
    /// <summary>Inserts the workflow as version 1, disabled, in the caller's transaction; returns its id.</summary>
    public static async Task<Guid> InsertAsync(DbConnection connection, DbTransaction transaction, Guid orgId, CompiledWorkflow compiled, Guid userId,
        CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO workflows (id, org_id, name, version, trigger_type, created_by) VALUES (@id, @orgId, @Name, 1, @TriggerType, @userId);
            INSERT INTO workflow_versions (workflow_id, version, definition, created_by) VALUES (@id, 1, @definition::jsonb, @userId);
            """, new { id, orgId, compiled.Definition.Name, compiled.TriggerType, userId, definition = JsonSerializer.Serialize(compiled.Definition, JsonSerializerOptions.Web) },
            transaction, cancellationToken: cancellationToken));
        return id;
    }
}
