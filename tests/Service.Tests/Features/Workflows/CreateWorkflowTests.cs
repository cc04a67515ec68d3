using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Creating a workflow: a valid definition is saved as version 1; bad input is a 400 naming each field, and nothing is saved.</summary>
public sealed class CreateWorkflowTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private static readonly object Notify = new { name = "tell", type = "notify", input = new { toRole = "admin", title = "Shipped {{event.path}}" } };

    [Fact]
    public async Task The_definition_from_the_product_brief_is_saved_disabled_as_version_1()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, "https://hooks.example.com/reports");
        var definition = new
        {
            name = "Ship new reports",
            trigger = new { type = "event", eventTypes = new[] { "file_created" }, pathGlob = "/reports/**/*.csv", debounceSeconds = 30 },
            condition = "event.tool != 'excel'",
            steps = new object[]
            {
                new { name = "post", type = "webhook", integrationId = integration.Id,
                      input = new { body = new { path = "{{event.path}}", note = "{{?event.metadata.note}}", by = "{{event.source|default:agent}}" } },
                      timeoutSeconds = 10, retry = new { maxAttempts = 5 } },
                new { name = "tell", type = "notify", when = "steps.post.output.status == 200", input = new { toRole = "admin", title = "Shipped {{event.path}}" } },
            },
            settings = new { runTimeoutSeconds = 300 },
        };

        var response = await owner.Client.PostAsJsonAsync(WorkflowSetup.Workflows(orgId), definition);

        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("\"1\"", response.Headers.ETag!.Tag);
        Assert.Equal(1, body.GetProperty("version").GetInt32());
        Assert.False(body.GetProperty("enabled").GetBoolean());
        Assert.Equal("event", body.GetProperty("triggerType").GetString());
        Assert.Equal("/reports/**/*.csv", body.GetProperty("definition").GetProperty("trigger").GetProperty("pathGlob").GetString());
        Assert.Equal(1, await factory.CountAuditAsync("workflow.created", body.GetProperty("id").GetString()));
    }

    public static TheoryData<string, object, string, string> BadDefinitions() => new()
    {
        { "invalid cron", new { name = "x", trigger = new { type = "schedule", cron = "61 9 * * *" }, steps = new[] { Notify } }, "trigger.cron", "Not a valid cron" },
        { "unknown zone", new { name = "x", trigger = new { type = "schedule", cron = "0 9 * * *", timeZone = "Mars/Base" }, steps = new[] { Notify } }, "trigger.timeZone", "IANA" },
        { "condition syntax", new { name = "x", trigger = new { type = "manual" }, condition = "input.n >", steps = new[] { Notify } }, "condition", "At position 9" },
        { "unknown root", new { name = "x", trigger = new { type = "manual" }, steps = new object[] { new { name = "tell", type = "notify", input = new { toRole = "admin", title = "{{secrets.key}}" } } } }, "steps[0].input.title", "Unknown variable 'secrets'" },
        { "event without event trigger", new { name = "x", trigger = new { type = "manual" }, steps = new[] { Notify } }, "steps[0].input", "only event-triggered" },
        { "later step", new { name = "x", trigger = new { type = "manual" }, steps = new object[] { new { name = "a", type = "notify", when = "steps.b.status == 'succeeded'", input = new { toRole = "admin", title = "t" } }, new { name = "b", type = "delay", input = new { seconds = 1 } } } }, "steps[0].when", "no earlier step" },
        { "unknown step type", new { name = "x", trigger = new { type = "manual" }, steps = new object[] { new { name = "run", type = "shell", input = new { cmd = "rm -rf /" } } } }, "steps[0].type", "webhook, notify, delay" },
        { "unknown event type", new { name = "x", trigger = new { type = "event", eventTypes = new[] { "file_eaten" } }, steps = new[] { Notify } }, "trigger.eventTypes", "file_created" },
        { "retry attempts", new { name = "x", trigger = new { type = "manual" }, steps = new object[] { new { name = "a", type = "delay", input = new { seconds = 1 }, retry = new { maxAttempts = 11 } } } }, "steps[0].retry.maxAttempts", "1 to 10" },
        { "duplicate step name", new { name = "x", trigger = new { type = "manual" }, steps = new object[] { new { name = "a", type = "delay", input = new { seconds = 1 } }, new { name = "a", type = "delay", input = new { seconds = 1 } } } }, "steps[1].name", "Another step" },
        { "no name", new { trigger = new { type = "manual" }, steps = new object[] { new { name = "a", type = "delay", input = new { seconds = 1 } } } }, "name", "1 to 200" },
        { "too many steps", new { name = "x", trigger = new { type = "manual" }, steps = Enumerable.Range(0, 51).Select(i => new { name = $"s{i}", type = "delay", input = new { seconds = 1 } }).ToArray() }, "steps", "1 to 50" },
        { "too large", new { name = "x", description = new string('d', 1000), trigger = new { type = "manual" }, steps = Enumerable.Range(0, 50).Select(i => new { name = $"s{i}", type = "notify", input = new { toRole = "admin", title = "t", body = new string('b', 6000) } }).ToArray() }, "definition", "256 KiB" },
    };

    [Theory]
    [MemberData(nameof(BadDefinitions))]
    public async Task Bad_definitions_are_400_naming_the_field_and_nothing_is_saved(string _, object definition, string field, string message)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();

        var problem = await (await owner.Client.PostAsJsonAsync(WorkflowSetup.Workflows(orgId), definition)).ProblemAsync(HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"no error for {field}: {errors}");
        Assert.Contains(messages.EnumerateArray(), m => m.GetString()!.Contains(message));
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM workflows WHERE org_id = $1", orgId));
    }

    [Fact]
    public async Task A_step_calling_another_organizations_integration_is_refused()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var other = await factory.SignUpAsync();
        var otherOrg = await other.CreateOrgAsync();
        var foreign = await other.CreateWebhookAsync(otherOrg, "https://hooks.example.com/x");

        var problem = await (await owner.Client.PostAsJsonAsync(WorkflowSetup.Workflows(orgId), WorkflowSetup.Manual(
            new { name = "post", type = "webhook", integrationId = foreign.Id }))).ProblemAsync(HttpStatusCode.BadRequest);

        Assert.Contains("No integration of this organization", problem.GetProperty("errors").GetProperty("steps[0].integrationId")[0].GetString());
    }

    [Fact]
    public async Task Malformed_json_and_wrong_types_are_400_problem_details()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        foreach (var body in new[] { "{\"name\": ", "{\"name\": 5, \"steps\": \"x\"}", "[]", "{\"name\":\"x\",\"trigger\":{\"type\":\"manual\"},\"steps\":[{\"name\":\"a\",\"type\":\"delay\",\"input\":[1]}]}" })
        {
            var response = await owner.Client.PostAsync(WorkflowSetup.Workflows(orgId), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            await response.ProblemAsync(HttpStatusCode.BadRequest);
        }
    }

    [Fact]
    public async Task Viewers_cannot_create()
    {
        var owner = await factory.SignUpAsync();
        var viewer = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");

        await (await viewer.Client.PostAsJsonAsync(WorkflowSetup.Workflows(orgId), WorkflowSetup.Manual(new { name = "a", type = "delay", input = new { seconds = 1 } })))
            .ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await viewer.Client.GetAsync(WorkflowSetup.Workflows(orgId))).StatusCode);
    }
}
