using System.Diagnostics;
using System.Text.Json.Nodes;
using CsCheck;
using Service.Infrastructure.Workflows;

namespace Service.Tests.Infrastructure.Workflows;

/// <summary>The condition language: what it computes, where it reports errors, and that no input can make it throw or hang.</summary>
public sealed class WorkflowExpressionTests
{
    private static readonly JsonObject Scope = RunScope.Create(
        JsonNode.Parse("""
            {"type": "event", "events": [{"type": "file_created", "path": "/reports/q3/sales.csv", "tool": "python", "durationMs": 1200,
              "metadata": {"tags": ["finance", "q3"], "size": 2048, "note": null}}]}
            """)!.AsObject(),
        JsonNode.Parse("""{"threshold": 1000, "names": ["ana", "bo"]}"""),
        new JsonObject { ["id"] = "run-1" });

    static WorkflowExpressionTests() => RunScope.AddStep(Scope, "post", "succeeded", JsonNode.Parse("""{"status": 200, "body": {"ok": true}}"""), null);

    private static JsonNode? Value(string text)
    {
        var expression = WorkflowExpression.Parse(text, out var error);
        Assert.True(error is null, error?.ToString());
        var result = expression!.Evaluate(Scope);
        Assert.True(!result.Failed, result.Error);
        return result.Value;
    }

    [Theory]
    [InlineData("event.tool != 'excel'", true)]
    [InlineData("event.tool == \"python\" and event.durationMs > 1000", true)]
    [InlineData("1 + 2 * 3 == 7 and (1 + 2) * 3 == 9", true)]
    [InlineData("10 % 4 == 2 and 7 / 2 == 3.5 and -event.durationMs < 0", true)]
    [InlineData("not true or false", false)]
    [InlineData("not (true and false)", true)]
    [InlineData("'finance' in event.metadata.tags", true)]
    [InlineData("event.metadata.tags contains 'q4'", false)]
    [InlineData("event.type in ['file_created', 'file_modified']", true)]
    [InlineData("event.path startsWith '/reports/' and event.path endsWith '.csv'", true)]
    [InlineData("event.path contains 'q3'", true)]
    [InlineData("event.path matches '/reports/**/*.csv'", true)]
    [InlineData("event.path matches '/reports/*.csv'", false)]
    [InlineData("event.metadata.size >= input.threshold", true)]
    [InlineData("input.names[1] == 'bo' and events[0].tool == 'python'", true)]
    [InlineData("event.metadata['size'] == 2048", true)]
    [InlineData("event.metadata.missing == null and event.metadata.note == null", true)]
    [InlineData("steps.post.output.status == 200 and steps.post.output.body.ok", true)]
    [InlineData("steps.post.status == 'succeeded'", true)]
    [InlineData("'a' + 'b' == 'ab' and 'n' + 1 == 'n1'", true)]
    [InlineData("'abc' < 'abd'", true)]
    public void Evaluates(string text, bool expected) => Assert.Equal(expected, Value(text)!.GetValue<bool>());

    [Fact]
    public void A_missing_variable_is_null_and_a_null_condition_is_false()
    {
        var expression = WorkflowExpression.Parse("event.metadata.nothing.deeper", out _)!;
        Assert.Equal((false, null), expression.Test(Scope));
    }

    [Theory]
    [InlineData("event.path ==", 13, "ended")]
    [InlineData("secrets.key == 1", 0, "Unknown variable 'secrets'")]
    [InlineData("event.path = 'x'", 11, "'=='")]
    [InlineData("event.tool == 'x' && true", 18, "'and'")]
    [InlineData("(1 + 2", 6, "')'")]
    [InlineData("'open", 0, "not closed")]
    [InlineData("event.GetType()", 13, "Unexpected '('")]
    [InlineData("steps.post.headers", 0, "steps.<name>.output")]
    [InlineData("1 == 2 == 3", 7, "Unexpected '=='")]
    [InlineData("event.path # 1", 11, "Unexpected character '#'")]
    public void Reports_where_a_condition_does_not_parse(string text, int position, string message)
    {
        Assert.Null(WorkflowExpression.Parse(text, out var error));
        Assert.Equal(position, error!.Position);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("event.path < 3", "compares two numbers or two strings")]
    [InlineData("event.path - 1", "needs numbers")]
    [InlineData("1 / 0", "Division by zero")]
    [InlineData("event.path and true", "needs true or false")]
    [InlineData("event.path matches 1", "needs strings")]
    public void Type_errors_are_results_not_exceptions(string text, string message)
    {
        var result = WorkflowExpression.Parse(text, out _)!.Evaluate(Scope);
        Assert.True(result.Failed);
        Assert.Contains(message, result.Error);
    }

    [Fact]
    public void Limits_length_depth_and_string_growth()
    {
        Assert.Null(WorkflowExpression.Parse(new string(' ', 2001), out var tooLong));
        Assert.Contains("at most 2000", tooLong!.Message);
        Assert.Null(WorkflowExpression.Parse(new string('(', 40) + "1" + new string(')', 40), out var tooDeep));
        Assert.Contains("Nested more than 32", tooDeep!.Message);
        Assert.Null(WorkflowExpression.Parse(string.Concat(Enumerable.Repeat("not ", 40)) + "true", out _));
        var path = new JsonObject { ["path"] = new string('x', 40_000) };
        var scope = RunScope.Create(new JsonObject { ["events"] = new JsonArray(path) }, null, []);
        var doubled = WorkflowExpression.Parse("event.path + event.path + event.path", out _)!.Evaluate(scope);
        Assert.Contains("grew beyond", doubled.Error);
    }

    private static readonly string[] Tokens =
    [
        "event", "events", "input", "steps", "run", "trigger", "post", "output", "status", "path", "tool", "metadata", "tags", ".", "[", "]", "(", ")", ",",
        "0", "1", "2.5", "99999999999999999999", "'q3'", "\"x\"", "'", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "and", "or", "not",
        "in", "contains", "startsWith", "endsWith", "matches", "'/reports/**'", "true", "false", "null", " ", "=", "!", "&", "|", "\\", "\u0000", "é", "{{",
    ];

    [Fact]
    public void Random_token_soup_yields_a_value_or_an_error_and_never_throws_or_hangs()
    {
        Gen.Int[0, Tokens.Length - 1].Array[0, 60].Select(indexes => string.Join("", indexes.Select(i => Tokens[i]))).Sample(text =>
        {
            var clock = Stopwatch.StartNew();
            var expression = WorkflowExpression.Parse(text, out var error);
            Assert.True(expression is null ^ error is null);
            if (expression is not null)
            {
                var result = expression.Evaluate(Scope);
                Assert.True(result.Failed ^ result.Error is null);
                expression.Test(Scope);
            }
            Assert.True(clock.ElapsedMilliseconds < 1000, $"took {clock.ElapsedMilliseconds} ms: {text}");
        }, iter: 20_000);
    }

    [Fact]
    public void Random_printable_text_never_throws()
    {
        Gen.Char[" !\"#$%&'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~\u00e9\u0000\n"].Array[0, 80].Select(chars => new string(chars)).Sample(text =>
        {
            var expression = WorkflowExpression.Parse(text, out var error);
            Assert.True(expression is null ^ error is null);
            if (error is not null) Assert.InRange(error.Position, 0, text.Length);
            expression?.Evaluate(Scope);
        }, iter: 20_000);
    }

    /// <summary>Well-formed expressions built at random: every one parses, and evaluates to a value or a type error.</summary>
    [Fact]
    public void Random_well_formed_expressions_always_parse_and_evaluate_to_a_result()
    {
        var leaf = Gen.OneOf(Gen.Const("1"), Gen.Const("'q3'"), Gen.Const("true"), Gen.Const("null"), Gen.Const("event.path"), Gen.Const("event.durationMs"),
            Gen.Const("event.metadata.tags"), Gen.Const("input.threshold"), Gen.Const("steps.post.output.status"), Gen.Const("[1, 'a']"));
        var operators = Gen.OneOf("==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "and", "or", "in", "contains", "startsWith", "endsWith", "matches");
        var expressions = Gen.Recursive<string>((depth, inner) => depth >= 6 ? leaf : Gen.Frequency(
            (3, leaf),
            (4, Gen.Select(inner, operators, inner, (l, op, r) => $"({l} {op} {r})")),
            (1, inner.Select(e => $"(not ({e}))")),
            (1, inner.Select(e => $"-({e})"))));
        expressions.Sample(text =>
        {
            var expression = WorkflowExpression.Parse(text, out var error);
            Assert.True(error is null, $"{text}: {error}");
            var result = expression!.Evaluate(Scope);
            Assert.True(result.Failed ^ result.Error is null);
        }, iter: 10_000);
    }
}
