namespace Service.Features.Organizations;

/// <summary>An organization as the caller sees it, with the caller's role in it.</summary>
public sealed record OrganizationResponse(Guid Id, string Name, string Role, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);
