using System.Text.Json;
using Service.Infrastructure.Database;
using Service.Infrastructure.Notifications;

namespace Service.Features.Notifications;

/// <summary>A notifications row as the slices read it.</summary>
public sealed record NotificationRow(long Id, Guid? OrgId, string Type, string Title, string? Body, string Data, DateTime CreatedAt, DateTime? ReadAt)
{
    public const string Columns = "id AS Id, org_id AS OrgId, type AS Type, title AS Title, body AS Body, data::text AS Data, created_at AS CreatedAt, read_at AS ReadAt";

    public NotificationResponse ToResponse()
    {
        using var data = JsonDocument.Parse(Data);
        return new NotificationResponse(Id, OrgId, Type, Title, Body, data.RootElement.Clone(), CreatedAt.AsUtc(), ReadAt.AsUtc());
    }
}
