using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Validate checks without saving and dry-runs a sample event: the condition's value and each step's rendered input.</summary>
public sealed class ValidateWorkflowTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task A_dry_run_shows_the_condition_and_rendered_inputs_and_calls_nothing()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, receiver.Url());
        var definition = new
        {
            name = "Ship",
            trigger = new { type = "event", eventTypes = new[] { "file_created" } },
            condition = "event.tool != 'excel'",
            steps = new object[]
            {
                new { name = "post", type = "webhook", integrationId = integration.Id, input = new { body = new { path = "{{event.path}}", note = "{{?event.metadata.note}}" } } },
                new { name = "tell", type = "notify", when = "event.path endsWith '.csv'", input = new { toRole = "admin", title = "Got {{event.path}}" } },
            },
        };

        var response = await owner.Client.PostAsJsonAsync($"{WorkflowSetup.Workflows(orgId)}/validate",
            new { definition, sampleEvent = new { type = "file_created", path = "/r/a \"b\".csv", tool = "python" } });

        await Identity.EnsureAsync(response, HttpStatusCode.OK);
        var result = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(result.GetProperty("valid").GetBoolean());
        Assert.True(result.GetProperty("condition").GetProperty("value").GetBoolean());
        var steps = result.GetProperty("steps");
        Assert.Equal("/r/a \"b\".csv", steps[0].GetProperty("input").GetProperty("body").GetProperty("path").GetString());
        Assert.True(steps[1].GetProperty("when").GetProperty("value").GetBoolean());
        Assert.Equal("Got /r/a \"b\".csv", steps[1].GetProperty("input").GetProperty("title").GetString());
        Assert.Empty(receiver.Hits);
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM workflows WHERE org_id = $1", orgId));
    }

    [Fact]
    public async Task Problems_are_listed_by_field_with_the_position_of_a_condition_error()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var result = await (await owner.Client.PostAsJsonAsync($"{WorkflowSetup.Workflows(orgId)}/validate", new
        {
            definition = new
            {
                name = "x",
                trigger = new { type = "schedule", cron = "0 25 * * *", timeZone = "Nowhere/City" },
                condition = "trigger.scheduledFor == ",
                steps = new object[] { new { name = "post", type = "webhook", integrationId = Guid.NewGuid() } },
            },
        })).Content.ReadFromJsonAsync<JsonElement>();

        Assert.False(result.GetProperty("valid").GetBoolean());
        var errors = result.GetProperty("errors");
        Assert.StartsWith("Not a valid cron", errors.GetProperty("trigger.cron")[0].GetString());
        Assert.True(errors.TryGetProperty("trigger.timeZone", out _));
        Assert.StartsWith("At position 24", errors.GetProperty("condition")[0].GetString());
    }

    [Fact]
    public async Task An_unknown_integration_is_reported()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var result = await (await owner.Client.PostAsJsonAsync($"{WorkflowSetup.Workflows(orgId)}/validate",
            new { definition = WorkflowSetup.Manual(new { name = "post", type = "webhook", integrationId = Guid.NewGuid() }) })).Content.ReadFromJsonAsync<JsonElement>();

        Assert.False(result.GetProperty("valid").GetBoolean());
        Assert.True(result.GetProperty("errors").TryGetProperty("steps[0].integrationId", out _));
    }
}
