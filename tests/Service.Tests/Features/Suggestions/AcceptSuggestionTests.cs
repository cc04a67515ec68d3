using Service.Tests.Fixtures;

namespace Service.Tests.Features.Suggestions;

/// <summary>Accepting creates one disabled workflow draft, in the same transaction, even when clients race.</summary>
public sealed class AcceptSuggestionTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Accept_creates_a_disabled_workflow_from_the_draft_and_answers_201_with_its_id()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var suggestions = await owner.SuggestionsAsync(orgId);
        Assert.Contains(suggestions, s => s.GetProperty("kind").GetString() == "sequence");
        foreach (var suggestion in suggestions)
        {
            var response = await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{suggestion.GetProperty("id")}/accept", null);
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            var workflowId = body.GetProperty("workflowId").GetGuid();
            Assert.Equal($"/api/v1/orgs/{orgId}/workflows/{workflowId}", response.Headers.Location!.ToString());
            Assert.Equal("accepted", body.GetProperty("suggestion").GetProperty("status").GetString());

            var workflow = await owner.Client.GetFromJsonAsync<JsonElement>($"{WorkflowSetup.Workflows(orgId)}/{workflowId}");
            Assert.False(workflow.GetProperty("enabled").GetBoolean());
            var definition = workflow.GetProperty("definition");
            var draft = suggestion.GetProperty("draft");
            foreach (var field in new[] { "type", "cron", "timeZone", "pathGlob", "eventTypes", "tool", "debounceSeconds" })
            {
                var drafted = draft.GetProperty("trigger").TryGetProperty(field, out var d) ? d.ToString() : "";
                var saved = definition.GetProperty("trigger").TryGetProperty(field, out var v) ? v.ToString() : "";
                Assert.Equal(drafted, saved);
            }
            Assert.Equal(suggestion.GetProperty("title").GetString(), workflow.GetProperty("name").GetString());
            var expected = suggestion.GetProperty("kind").GetString() == "schedule" ? "schedule" : "event";
            Assert.Equal(expected, workflow.GetProperty("triggerType").GetString());
            if (expected == "event")
            {
                var firstStep = suggestion.GetProperty("evidence").GetProperty("steps")[0];
                Assert.Equal(firstStep.GetProperty("path").GetString(), definition.GetProperty("trigger").GetProperty("pathGlob").GetString());
            }
        }
        Assert.Empty(await owner.SuggestionsAsync(orgId));
        Assert.Equal(suggestions.Count, (await owner.SuggestionsAsync(orgId, "accepted")).Count);
        foreach (var suggestion in suggestions) Assert.Equal(1, await factory.CountAuditAsync("suggestion.accepted", suggestion.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task Clients_accepting_at_once_create_exactly_one_draft()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var members = new List<TestUser> { owner };
        for (var i = 0; i < 3; i++)
        {
            var member = await factory.SignUpAsync();
            await owner.AddMemberAsync(orgId, member, "member");
            members.Add(member);
        }
        var suggestionId = (await owner.SuggestionsAsync(orgId))[0].GetProperty("id").GetGuid();

        var responses = await Task.WhenAll(members.SelectMany(m => new[] { m, m }).Select(m => m.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{suggestionId}/accept", null)));
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        var workflowId = (await responses.Single(r => r.StatusCode == HttpStatusCode.Created).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("workflowId").GetGuid();
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            var problem = await refused.ProblemAsync(HttpStatusCode.Conflict);
            Assert.Equal(workflowId, problem.GetProperty("workflowId").GetGuid());
        }
        var workflows = await owner.Client.GetFromJsonAsync<JsonElement>(WorkflowSetup.Workflows(orgId));
        Assert.Equal([workflowId], workflows.GetProperty("items").EnumerateArray().Select(w => w.GetProperty("id").GetGuid()));
    }

    [Fact]
    public async Task Viewers_cannot_accept_and_other_organizations_get_404()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await factory.OrgWithSuggestionsAsync(owner);
        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        var suggestionId = (await viewer.SuggestionsAsync(orgId))[0].GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.Forbidden, (await viewer.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{suggestionId}/accept", null)).StatusCode);

        var otherOrg = await owner.CreateOrgAsync("other");
        await (await owner.Client.PostAsync($"{PatternSetup.Suggestions(otherOrg)}/{suggestionId}/accept", null)).ProblemAsync(HttpStatusCode.NotFound);
        await (await owner.Client.PostAsync($"{PatternSetup.Suggestions(orgId)}/{Guid.NewGuid()}/accept", null)).ProblemAsync(HttpStatusCode.NotFound);
    }
}
