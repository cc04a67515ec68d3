using Service.Tests.Fixtures;

namespace Service.Tests.Features.Workflows;

/// <summary>Enable and disable are their own audited routes; enabling a schedule plans its next fire.</summary>
public sealed class EnableWorkflowTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task Enabling_plans_the_next_fire_and_disabling_clears_it_both_audited()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var workflowId = await owner.CreateWorkflowAsync(orgId, new
        {
            name = "Mornings",
            trigger = new { type = "schedule", cron = "0 9 * * 1-5", timeZone = "Europe/Berlin" },
            steps = new object[] { new { name = "tell", type = "notify", input = new { toRole = "member", title = "Good morning" } } },
        });

        var enabled = await (await owner.Client.PostAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}/enable", null)).Content.ReadFromJsonAsync<JsonElement>();
        var next = enabled.GetProperty("nextFireAt").GetDateTimeOffset();
        var local = TimeZoneInfo.ConvertTime(next, TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin"));
        Assert.True(enabled.GetProperty("enabled").GetBoolean());
        Assert.Equal(9, local.Hour);
        Assert.InRange(local.DayOfWeek, DayOfWeek.Monday, DayOfWeek.Friday);
        Assert.True(next > DateTimeOffset.UtcNow);

        var disabled = await (await owner.Client.PostAsync($"{WorkflowSetup.Workflows(orgId)}/{workflowId}/disable", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(disabled.GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, disabled.GetProperty("nextFireAt").ValueKind);
        Assert.Equal(1, await factory.CountAuditAsync("workflow.enabled", workflowId.ToString()));
        Assert.Equal(1, await factory.CountAuditAsync("workflow.disabled", workflowId.ToString()));
    }
}
