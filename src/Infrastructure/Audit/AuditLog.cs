using System.Data.Common;
using System.Diagnostics;
using System.Text.Json;
using Dapper;

namespace Service.Infrastructure.Audit;

public sealed record AuditEntry(string ActorType, string? ActorId, Guid? OrgId, string Action, string? TargetType = null, string? TargetId = null, object? Data = null);

/// <summary>Appends to audit_log inside the caller's transaction, so the record and the change commit together.</summary>
public sealed class AuditLog(IHttpContextAccessor http)
{
    public Task WriteAsync(DbConnection connection, DbTransaction? transaction, AuditEntry entry, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO audit_log (actor_type, actor_id, org_id, action, target_type, target_id, data, trace_id, request_id)
            VALUES (@ActorType, @ActorId, @OrgId, @Action, @TargetType, @TargetId, @Data::jsonb, @TraceId, @RequestId)
            """,
            new
            {
                entry.ActorType,
                entry.ActorId,
                entry.OrgId,
                entry.Action,
                entry.TargetType,
                entry.TargetId,
                Data = JsonSerializer.Serialize(entry.Data ?? new { }, JsonSerializerOptions.Web),
                TraceId = Activity.Current?.TraceId.ToString(),
                RequestId = http.HttpContext?.TraceIdentifier,
            },
            transaction, cancellationToken: cancellationToken));
}
