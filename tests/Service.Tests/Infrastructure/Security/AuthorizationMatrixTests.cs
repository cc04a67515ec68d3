using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Service.Infrastructure.Security;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Security;

/// <summary>
/// Every route the app maps, found in its endpoint data source (so routes added later are covered without
/// touching this file), called as: nobody, a user of another organization, an agent key, a non-operator, and each
/// role of the organization below the route's policy.
/// </summary>
public sealed partial class AuthorizationMatrixTests(ServiceFactory factory) : IClassFixture<ServiceFactory>, IAsyncLifetime
{
    // Routes meant for callers who are not signed in. Anything else marked anonymous fails the first test.
    private static readonly Regex PublicRoutes = new(@"^/(health/.*|openapi/.*|docs(/.*)?|api/v1/auth/(register|login|refresh)|test/.*)$");

    private static readonly HashSet<string> KnownPolicies =
        [AuthPolicies.User, AuthPolicies.OrgViewer, AuthPolicies.OrgMember, AuthPolicies.OrgAdmin, AuthPolicies.OrgOwner, AuthPolicies.OrgIngest, AuthPolicies.Ops];

    private TestUser _ownerA = null!;
    private Guid _orgA;
    private Guid _keyIdA;
    private string _keyA = "";
    private TestUser _userB = null!;
    private readonly Dictionary<string, TestUser> _membersA = [];

    public async Task InitializeAsync()
    {
        _ownerA = await factory.SignUpAsync();
        _orgA = await _ownerA.CreateOrgAsync("A");
        (_keyIdA, _keyA) = await _ownerA.CreateApiKeyAsync(_orgA);
        _userB = await factory.SignUpAsync();
        await _userB.CreateOrgAsync("B");
        foreach (var role in new[] { "viewer", "member", "admin" })
        {
            _membersA[role] = await factory.SignUpAsync();
            await _ownerA.AddMemberAsync(_orgA, _membersA[role], role);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public sealed record Route(string Method, string Pattern, bool Anonymous, IReadOnlyList<string> Policies)
    {
        public bool OrgScoped => Pattern.Contains("{orgId", StringComparison.Ordinal);
        public override string ToString() => $"{Method} {Pattern}";
    }

    private IReadOnlyList<Route> Routes()
    {
        var routes = factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(method => new Route(
                method,
                "/" + e.RoutePattern.RawText!.TrimStart('/'),
                e.Metadata.GetMetadata<IAllowAnonymous>() is not null,
                e.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy ?? "").ToList())))
            .ToList();
        Assert.True(routes.Count >= 20, $"only {routes.Count} routes found: is the data source the app's?");
        return routes;
    }

    [Fact]
    public void Every_route_is_public_by_intent_or_names_a_known_policy()
    {
        var problems = Routes().Where(r => r.Anonymous
                ? !PublicRoutes.IsMatch(r.Pattern)
                : r.Policies.Count == 0 || r.Policies.Any(p => !KnownPolicies.Contains(p)))
            .Select(r => $"{r}: anonymous={r.Anonymous}, policies=[{string.Join(",", r.Policies)}]")
            .ToList();

        Assert.True(problems.Count == 0, "routes without an explicit, known authorization:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task Anonymous_callers_get_401_on_every_non_public_route()
    {
        var failures = new List<string>();
        foreach (var route in Routes().Where(r => !r.Anonymous))
        {
            await ExpectAsync(route, factory.CreateClient(), _orgA, HttpStatusCode.Unauthorized, failures);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Users_of_another_organization_get_404_on_every_org_scoped_route()
    {
        var failures = new List<string>();
        var orgScoped = Routes().Where(r => r.OrgScoped && !r.Anonymous).ToList();
        Assert.NotEmpty(orgScoped);
        foreach (var route in orgScoped)
        {
            await ExpectAsync(route, _userB.Client, _orgA, HttpStatusCode.NotFound, failures);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Agent_keys_get_403_outside_their_permission_and_404_in_other_organizations()
    {
        var failures = new List<string>();
        var agent = factory.ClientWithApiKey(_keyA);
        foreach (var route in Routes().Where(r => !r.Anonymous))
        {
            if (route.Policies.Contains(AuthPolicies.OrgIngest))
            {
                var otherOrg = await _userB.Client.GetFromJsonAsync<JsonElement>("/api/v1/orgs");
                await ExpectAsync(route, agent, otherOrg.GetProperty("items")[0].GetProperty("id").GetGuid(), HttpStatusCode.NotFound, failures);
            }
            else
            {
                await ExpectAsync(route, agent, _orgA, HttpStatusCode.Forbidden, failures);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Each_role_below_a_routes_policy_gets_403()
    {
        // Policies in rising order; a route needing one is refused to every role before it.
        string[] ladder = [AuthPolicies.OrgViewer, AuthPolicies.OrgMember, AuthPolicies.OrgAdmin, AuthPolicies.OrgOwner];
        string[] roles = ["viewer", "member", "admin"];
        var failures = new List<string>();
        var checkedRoutes = 0;
        foreach (var route in Routes().Where(r => r.OrgScoped && !r.Anonymous))
        {
            var needed = route.Policies.Select(p => Array.IndexOf(ladder, p)).DefaultIfEmpty(-1).Max();
            if (needed <= 0) continue;
            checkedRoutes++;
            foreach (var role in roles.Take(needed))
            {
                var before = failures.Count;
                await ExpectAsync(route, _membersA[role].Client, _orgA, HttpStatusCode.Forbidden, failures);
                if (failures.Count > before) failures[^1] = $"as {role}: {failures[^1]}";
            }
        }
        Assert.True(checkedRoutes >= 30, $"only {checkedRoutes} routes need more than viewer: is the policy metadata read?");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public async Task Users_who_are_not_operators_get_403_on_operator_routes()
    {
        var failures = new List<string>();
        foreach (var route in Routes().Where(r => r.Policies.Contains(AuthPolicies.Ops)))
        {
            await ExpectAsync(route, _ownerA.Client, _orgA, HttpStatusCode.Forbidden, failures);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private async Task ExpectAsync(Route route, HttpClient client, Guid orgId, HttpStatusCode expected, List<string> failures)
    {
        var request = new HttpRequestMessage(new HttpMethod(route.Method), Url(route.Pattern, orgId));
        if (route.Method is "POST" or "PUT" or "PATCH") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        var response = await client.SendAsync(request);
        if (response.StatusCode != expected)
        {
            failures.Add($"{route}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        else if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            failures.Add($"{route}: {(int)expected} without a problem details body");
        }
    }

    private string Url(string pattern, Guid orgId) => Parameter().Replace(pattern, m => m.Groups["name"].Value switch
    {
        "orgId" => orgId.ToString(),
        "userId" => _ownerA.Id.ToString(),
        "keyId" => _keyIdA.ToString(),
        "name" => "Registration",
        _ when m.Groups["constraint"].Value == "long" => "1",
        _ => Guid.NewGuid().ToString(),
    });

    [GeneratedRegex(@"\{\*?(?<name>\w+)(:(?<constraint>[^}]*))?\??\}")]
    private static partial Regex Parameter();
}
