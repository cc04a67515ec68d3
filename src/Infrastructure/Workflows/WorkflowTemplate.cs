using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Service.Infrastructure.Workflows;

/// <summary>Why a template could not be parsed or rendered, and where (a field path such as steps[0].input.body.path).</summary>
public sealed record TemplateError(string Field, string Message);

/// <summary>
/// Templates in step inputs. Every string leaf of an input may hold placeholders: <c>{{event.path}}</c> (required:
/// rendering fails if missing), <c>{{?event.metadata.note}}</c> (optional: empty when missing) and
/// <c>{{event.source|default:agent}}</c> (the text after <c>default:</c> when missing). A leaf that is exactly one
/// placeholder takes the variable's JSON value (a number stays a number, an object an object; a missing optional
/// is null); otherwise values are written into the text. Inputs are rebuilt as JSON trees, never by pasting text,
/// so quotes and backslashes in values are escaped by the JSON writer.
/// </summary>
public static class WorkflowTemplate
{
    public const int MaxRenderedBytes = 256 * 1024;

    private sealed record Placeholder(VariablePath Path, bool Optional, string? Default);

    /// <summary>The variables every string leaf of <paramref name="input"/> refers to; parse errors are added with their field.</summary>
    public static List<VariablePath> Check(JsonNode? input, string field, List<TemplateError> errors)
    {
        var paths = new List<VariablePath>();
        Visit(input, field, (text, at) =>
        {
            foreach (var part in Split(text, at, errors)) if (part is Placeholder p) paths.Add(p.Path);
        });
        return paths;
    }

    /// <summary>The input with every placeholder replaced, or the first error met (a missing required variable, a parse error).</summary>
    public static (JsonNode? Rendered, TemplateError? Error) Render(JsonNode? input, JsonObject scope, string field)
    {
        var errors = new List<TemplateError>();
        var rendered = RenderNode(input, scope, field, errors);
        if (errors.Count > 0) return (null, errors[0]);
        if (rendered is not null && Encoding.UTF8.GetByteCount(rendered.ToJsonString()) > MaxRenderedBytes)
        {
            return (null, new TemplateError(field, $"The rendered input is larger than {MaxRenderedBytes / 1024} KiB."));
        }
        return (rendered, null);
    }

    private static JsonNode? RenderNode(JsonNode? node, JsonObject scope, string field, List<TemplateError> errors)
    {
        switch (node)
        {
            case JsonObject o:
                var copy = new JsonObject();
                foreach (var (key, value) in o) copy[key] = RenderNode(value, scope, $"{field}.{key}", errors);
                return copy;
            case JsonArray a:
                return new JsonArray(a.Select((item, i) => RenderNode(item, scope, $"{field}[{i}]", errors)).ToArray());
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                return RenderString(v.GetValue<string>(), scope, field, errors);
            default:
                return node?.DeepClone();
        }
    }

    private static JsonNode? RenderString(string text, JsonObject scope, string field, List<TemplateError> errors)
    {
        var parts = Split(text, field, errors);
        if (parts.Count == 1 && parts[0] is Placeholder only)
        {
            var value = only.Path.Resolve(scope);
            if (value is not null) return value.DeepClone();
            if (only.Default is not null) return JsonValue.Create(only.Default);
            if (only.Optional) return null;
            errors.Add(new TemplateError(field, $"{only.Path} is missing; write {{{{?{only.Path}}}}} if it may be."));
            return null;
        }
        var builder = new StringBuilder();
        foreach (var part in parts)
        {
            if (part is string literal) { builder.Append(literal); continue; }
            var placeholder = (Placeholder)part;
            var value = placeholder.Path.Resolve(scope);
            if (value is null && placeholder.Default is null && !placeholder.Optional)
            {
                errors.Add(new TemplateError(field, $"{placeholder.Path} is missing; write {{{{?{placeholder.Path}}}}} if it may be."));
                return null;
            }
            builder.Append(value switch
            {
                null => placeholder.Default ?? "",
                JsonValue s when s.GetValueKind() == JsonValueKind.String => s.GetValue<string>(),
                _ => value.ToJsonString(),
            });
            if (builder.Length > MaxRenderedBytes)
            {
                errors.Add(new TemplateError(field, $"The rendered text is longer than {MaxRenderedBytes / 1024} KiB."));
                return null;
            }
        }
        return JsonValue.Create(builder.ToString());
    }

    /// <summary>Literal text (string) and placeholders, in order.</summary>
    private static List<object> Split(string text, string field, List<TemplateError> errors)
    {
        var parts = new List<object>();
        var i = 0;
        while (i < text.Length)
        {
            var open = text.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { parts.Add(text[i..]); break; }
            if (open > i) parts.Add(text[i..open]);
            var close = text.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0)
            {
                errors.Add(new TemplateError(field, $"The placeholder at position {open} is not closed with '}}}}'."));
                return [text];
            }
            var inner = text[(open + 2)..close].Trim();
            string? fallback = null;
            var bar = inner.IndexOf('|');
            if (bar >= 0)
            {
                var filter = inner[(bar + 1)..].TrimStart();
                if (!filter.StartsWith("default:", StringComparison.Ordinal))
                {
                    errors.Add(new TemplateError(field, $"Unknown filter '{filter}' at position {open}; the only filter is default:<text>."));
                    return [text];
                }
                fallback = filter["default:".Length..];
                inner = inner[..bar].TrimEnd();
            }
            var optional = inner.StartsWith('?');
            if (optional) inner = inner[1..].TrimStart();
            var path = WorkflowExpression.ParsePath(inner, out var error);
            if (path is null)
            {
                errors.Add(new TemplateError(field, $"The placeholder at position {open}: {error!.Message}"));
                return [text];
            }
            parts.Add(new Placeholder(path, optional, fallback));
            i = close + 2;
        }
        return parts;
    }

    private static void Visit(JsonNode? node, string field, Action<string, string> onString)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o) Visit(value, $"{field}.{key}", onString);
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) Visit(a[i], $"{field}[{i}]", onString);
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                onString(v.GetValue<string>(), field);
                break;
        }
    }
}
