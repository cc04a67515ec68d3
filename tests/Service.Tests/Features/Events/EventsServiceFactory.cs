using Service.Tests.Fixtures;

namespace Service.Tests.Features.Events;

/// <summary>A test class's service with one organization, its owner and an agent key of it, made once.</summary>
public abstract class EventsServiceFactory : ServiceFactory
{
    private Task<(TestUser Owner, Guid OrgId, HttpClient Agent, Guid KeyId)>? _org;

    public Task<(TestUser Owner, Guid OrgId, HttpClient Agent, Guid KeyId)> OrgAsync() => _org ??= CreateAsync();

    private async Task<(TestUser, Guid, HttpClient, Guid)> CreateAsync()
    {
        var owner = await this.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Events");
        var (keyId, key) = await owner.CreateApiKeyAsync(orgId, "agent");
        return (owner, orgId, this.ClientWithApiKey(key), keyId);
    }
}
