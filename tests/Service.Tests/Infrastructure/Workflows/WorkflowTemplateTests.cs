using System.Text.Json.Nodes;
using CsCheck;
using Service.Infrastructure.Workflows;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>Templates render into JSON trees: required, optional and default placeholders, escaping, and errors that name the field.</summary>
public sealed class WorkflowTemplateTests
{
    private static readonly JsonObject Scope = RunScope.Create(
        JsonNode.Parse("""{"events": [{"path": "/r/\"quoted\" \\ file.csv", "size": 12, "metadata": {"tags": ["a"]}}]}""")!.AsObject(), null, []);

    private static JsonNode? Render(string json)
    {
        var (rendered, error) = WorkflowTemplate.Render(JsonNode.Parse(json), Scope, "input");
        Assert.True(error is null, error?.Message);
        return rendered;
    }

    [Fact]
    public void Renders_every_string_leaf_and_keeps_json_types_of_lone_placeholders()
    {
        var rendered = Render("""
            {"body": {"path": "{{event.path}}", "text": "size {{event.size}} at {{ event.path }}", "size": "{{event.size}}",
                      "tags": "{{event.metadata.tags}}", "list": ["{{?event.nothing}}", "x{{?event.nothing}}y"], "by": "{{event.source|default:agent}}",
                      "n": 5, "flag": true}}
            """)!;
        var body = rendered["body"]!;
        Assert.Equal("/r/\"quoted\" \\ file.csv", body["path"]!.GetValue<string>());
        Assert.Equal("size 12 at /r/\"quoted\" \\ file.csv", body["text"]!.GetValue<string>());
        Assert.Equal(12, body["size"]!.GetValue<int>());
        Assert.Equal("""["a"]""", body["tags"]!.ToJsonString());
        Assert.Null(body["list"]![0]);
        Assert.Equal("xy", body["list"]![1]!.GetValue<string>());
        Assert.Equal("agent", body["by"]!.GetValue<string>());
        Assert.Equal(5, body["n"]!.GetValue<int>());
        // The JSON writer escapes what values carry: the document round-trips.
        Assert.Equal("/r/\"quoted\" \\ file.csv", JsonNode.Parse(rendered.ToJsonString())!["body"]!["path"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"body": {"to": "{{event.owner}}"}}""", "input.body.to", "event.owner is missing")]
    [InlineData("""{"title": "{{event.path"}""", "input.title", "not closed")]
    [InlineData("""{"title": "{{secret.key}}"}""", "input.title", "Unknown variable 'secret'")]
    [InlineData("""{"title": "{{event.path|upper}}"}""", "input.title", "Unknown filter")]
    [InlineData("""{"list": ["ok", "{{event.path + 1}}"]}""", "input.list[1]", "Expected a variable")]
    public void Errors_name_the_field(string json, string field, string message)
    {
        var (_, error) = WorkflowTemplate.Render(JsonNode.Parse(json), Scope, "input");
        Assert.Equal(field, error!.Field);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Random_template_text_renders_or_reports_an_error_and_never_throws()
    {
        Gen.Char["{}?|:.abdefhnpt_ x[]0'\"\\"].Array[0, 60].Select(chars => new string(chars)).Sample(text =>
        {
            var input = new JsonObject { ["value"] = text };
            var errors = new List<TemplateError>();
            WorkflowTemplate.Check(input, "input", errors);
            var (rendered, error) = WorkflowTemplate.Render(input, Scope, "input");
            Assert.True(rendered is not null ^ error is not null || rendered is null && error is null);
        }, iter: 20_000);
    }
}
