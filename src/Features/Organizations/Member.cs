namespace Service.Features.Organizations;

/// <summary>A member of an organization: the user and their role.</summary>
public sealed record MemberResponse(Guid UserId, string Email, string DisplayName, string Role, DateTimeOffset JoinedAt);
