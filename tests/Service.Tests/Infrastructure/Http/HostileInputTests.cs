using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Infrastructure.Http;

/// <summary>
/// Hostile input on every operation of the OpenAPI document (read at run time, so new routes are covered without
/// touching this file): generated requests with wrong types, missing and extra fields, huge and deeply nested bodies,
/// overlong strings, NUL bytes and invalid UTF-8, negative and enormous numbers, malformed ids and cursors, wrong
/// content types and overlong headers, sent as anonymous, an owner, a viewer, an agent key and a stranger. No answer
/// may be 5xx or carry an exception's name or a stack frame; every 4xx is problem details.
/// </summary>
public sealed class HostileInputTests(ServiceFactory factory, ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    private const int MinimumRequests = 10_000;

    private static readonly string[] HostileStrings =
    [
        "", " ", "null", "-1", "0", "1e309", "NaN", "99999999999999999999999", "\u0000", "a\u0000b", "\uD800", "\u202E\u0000x",
        "' OR 1=1 --", "../../etc/passwd", "%00", "{{event.path}}", "<script>alert(1)</script>", "\r\nX-Injected: 1", new string('x', 5_000),
        new string('\u00e9', 70_000), "2026-13-45T99:99:99Z", "!!!not-a-cursor!!!", "eyJhIjoxfQ", "00000000-0000-0000-0000-000000000000",
    ];

    // No NUL in a path: the test server refuses to send one, and Kestrel answers it with 400 before the app runs.
    private static readonly string[] HostileSegments =
    [
        "abc", "0", "-1", "%C3%28", "null", "%2e%2e%2f", new string('9', 600), "00000000-0000-0000-0000-000000000000", "%E2%80%AE",
    ];

    private static readonly string[] HostileQueryValues =
    [
        "", "-1", "0", "1e309", "99999999999999999999", "NaN", "true", "%00", "%C3%28", "%FF%FE", new string('q', 6_000), "2026-13-45T99:99:99Z",
        "!!!", "eyJvIjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJpIjoiYWJjIn0", "file_opened", "new", "2026-01-01T00:00:00Z", "5",
    ];

    private sealed record Operation(string Method, string Path, JsonObject Node)
    {
        public override string ToString() => $"{Method} {Path}";
    }

    private sealed record Caller(string Name, HttpClient Client);

    private sealed record Attempt(Caller Caller, string Path, string Query, string? ContentType, byte[]? Body, (string Name, string Value)[] Headers)
    {
        public override string ToString() =>
            $"as {Caller.Name}: {Path}{Query} [{ContentType}] {(Body is null ? "" : Encoding.UTF8.GetString(Body.AsSpan(0, Math.Min(Body.Length, 300))))}";
    }

    [Fact]
    public async Task Every_operation_answers_hostile_requests_without_a_5xx_a_stack_trace_or_a_non_problem_4xx()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Fuzzed");
        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        var (keyId, key) = await owner.CreateApiKeyAsync(orgId);
        var stranger = await factory.SignUpAsync();
        var strangerOrg = await stranger.CreateOrgAsync("Elsewhere");
        var known = new Dictionary<string, string[]>
        {
            ["orgId"] = [orgId.ToString(), strangerOrg.ToString()],
            ["userId"] = [viewer.Id.ToString(), owner.Id.ToString(), stranger.Id.ToString()],
            ["keyId"] = [keyId.ToString()],
        };
        var callers = new[]
        {
            new Caller("anonymous", factory.CreateClient()), new Caller("owner", factory.ClientWithToken(owner.AccessToken)),
            new Caller("viewer", factory.ClientWithToken(viewer.AccessToken)), new Caller("agent", factory.ClientWithApiKey(key)),
            new Caller("stranger", factory.ClientWithToken(stranger.AccessToken)),
        };

        var document = JsonNode.Parse(await owner.Client.GetStringAsync("/openapi/v1.json"))!.AsObject();
        var operations = document["paths"]!.AsObject()
            .Where(p => !p.Key.StartsWith("/test/", StringComparison.Ordinal))
            .SelectMany(p => p.Value!.AsObject().Where(m => m.Key is "get" or "post" or "put" or "patch" or "delete")
                .Select(m => new Operation(m.Key.ToUpperInvariant(), p.Key, m.Value!.AsObject())))
            // Deletions last, so the organization the others reach into lives as long as possible.
            .OrderBy(o => o.Method == "DELETE").ToList();
        Assert.True(operations.Count >= 60, $"only {operations.Count} operations in the document");
        var perOperation = (MinimumRequests + operations.Count - 1) / operations.Count + 5;

        var sent = 0;
        var statuses = new ConcurrentDictionary<int, int>();
        var failures = new ConcurrentQueue<string>();
        foreach (var operation in operations)
        {
            var gen = AttemptGen(operation, document, callers, known);
            try
            {
                await gen.SampleAsync(async attempt =>
                {
                    var (status, problem) = await SendAsync(operation, attempt);
                    Interlocked.Increment(ref sent);
                    statuses.AddOrUpdate(status, 1, (_, n) => n + 1);
                    if (problem is not null) throw new InvalidOperationException(problem);
                }, iter: perOperation, threads: 4);
            }
            catch (Exception e)
            {
                failures.Enqueue($"{operation}: {e.InnerException?.Message ?? e.Message}");
            }
        }

        output.WriteLine($"{sent} requests over {operations.Count} operations; statuses: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}"))}");
        Assert.True(failures.IsEmpty, string.Join("\n\n", failures));
        Assert.True(sent >= MinimumRequests, $"only {sent} requests sent");
    }

    /// <summary>The answer's problem with the rules, or null.</summary>
    private static async Task<(int Status, string? Problem)> SendAsync(Operation operation, Attempt attempt)
    {
        using var request = new HttpRequestMessage(new HttpMethod(operation.Method), attempt.Path + attempt.Query);
        if (attempt.Body is not null)
        {
            request.Content = new ByteArrayContent(attempt.Body);
            if (attempt.ContentType is not null) request.Content.Headers.TryAddWithoutValidation("Content-Type", attempt.ContentType);
        }
        foreach (var (name, value) in attempt.Headers) request.Headers.TryAddWithoutValidation(name, value);
        using var response = await attempt.Caller.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var status = (int)response.StatusCode;
        // A stream or an export that started is a success; its body is not read.
        if (status < 400) return (status, null);
        var body = await response.Content.ReadAsStringAsync();
        if (status >= 500) return (status, $"{status} for {attempt}\n{Excerpt(body)}");
        if (body.Contains("Exception", StringComparison.Ordinal) || body.Contains("   at ", StringComparison.Ordinal))
        {
            return (status, $"{status} carries an exception for {attempt}\n{Excerpt(body)}");
        }
        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
        {
            return (status, $"{status} is {response.Content.Headers.ContentType?.MediaType ?? "without a body"}, not problem details, for {attempt}\n{Excerpt(body)}");
        }
        return (status, null);
    }

    private static string Excerpt(string body) => body.Length > 600 ? body[..600] + "..." : body;

    private static Gen<Attempt> AttemptGen(Operation operation, JsonObject document, Caller[] callers, Dictionary<string, string[]> known)
    {
        var parameters = (operation.Node["parameters"]?.AsArray() ?? []).Select(p => p!.AsObject()).ToList();
        var pathGen = PathGen(operation, parameters.Where(p => (string?)p["in"] == "path").Select(p => (string)p["name"]!).ToList(), known);
        var queryGen = QueryGen(parameters.Where(p => (string?)p["in"] == "query").Select(p => (string)p["name"]!).ToList());
        var schema = operation.Node["requestBody"]?["content"]?["application/json"]?["schema"];
        var bodyGen = operation.Method is "GET" or "DELETE" && schema is null
            ? Gen.Frequency((4, Gen.Const<(string?, byte[]?)>((null, null))), (1, RawBodyGen()))
            : Gen.Frequency((6, JsonBodyGen(schema, document, known)), (3, RawBodyGen()), (1, Gen.Const<(string?, byte[]?)>((null, null))));
        var headersGen = Gen.Frequency(
            (6, Gen.Const(Array.Empty<(string, string)>())),
            (1, Gen.OneOf(("Idempotency-Key", new string('k', 300)), ("Idempotency-Key", "\u00e9t\u00e9"), ("If-Match", "\"garbage"),
                ("Accept", "application/xml"), ("X-Request-Id", new string('r', 5_000)), ("X-Forwarded-For", "not-an-ip, 999.1.1.1"))
                .Select(h => new[] { h })),
            (1, Gen.Const(new[] { ("X-Overlong", new string('h', 16_000)) })));
        return Gen.Select(Gen.OneOf(callers), pathGen, queryGen, bodyGen, headersGen,
            (caller, path, query, body, headers) => new Attempt(caller, path, query, body.Item1, body.Item2, headers));
    }

    private static Gen<string> PathGen(Operation operation, List<string> names, Dictionary<string, string[]> known)
    {
        var path = Gen.Const(operation.Path);
        foreach (var name in names)
        {
            var valid = known.TryGetValue(name, out var values) && !(operation.Method == "DELETE" && name == "orgId") ? values : [];
            var segment = Gen.Frequency(
                (valid.Length > 0 ? 5 : 0, valid.Length > 0 ? Gen.OneOf(valid) : Gen.Const("")),
                (3, Gen.Guid.Select(g => g.ToString())),
                (3, Gen.OneOf(HostileSegments)));
            path = Gen.Select(path, segment, (p, s) => p.Replace("{" + name + "}", s, StringComparison.Ordinal));
        }
        return path;
    }

    private static Gen<string> QueryGen(List<string> names)
    {
        var pairs = names.Concat(["unexpected", "limit", "cursor"]).Distinct()
            .Select(name => Gen.Frequency((1, Gen.OneOf(HostileQueryValues).Select(v => $"{name}={(v.Contains('%') ? v : Uri.EscapeDataString(v))}")), (1, Gen.Const(""))))
            .ToArray();
        return Gen.Select(pairs.Length == 0 ? Gen.Const(Array.Empty<string>()) : Gen.Select(pairs[0], Gen.Const(pairs.Skip(1).ToArray()), (first, rest) => (first, rest))
            .SelectMany(t => t.rest.Aggregate(Gen.Const(new List<string> { t.first }), (acc, g) => Gen.Select(acc, g, (l, v) => { var copy = new List<string>(l) { v }; return copy; })))
            .Select(l => l.ToArray()),
            parts => string.Join("&", parts.Where(p => p.Length > 0)) is { Length: > 0 } q ? "?" + q : "");
    }

    /// <summary>Bodies below JSON: not JSON, invalid UTF-8, truncated, too deep, too large, with a wrong content type.</summary>
    private static Gen<(string?, byte[]?)> RawBodyGen() => Gen.OneOf<(string?, byte[]?)>(
        ("application/json", []),
        ("application/json", "{\"a\": "u8.ToArray()),
        ("application/json", [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0xFF, 0x22, 0x7D]),
        ("application/json", Encoding.UTF8.GetBytes(new string('[', 5_000) + new string(']', 5_000))),
        ("application/json", Encoding.UTF8.GetBytes("{\"x\":\"" + new string('z', 2_200_000) + "\"}")),
        ("application/json", "[1,2,3]"u8.ToArray()),
        ("application/json", "\"just a string\""u8.ToArray()),
        ("text/plain", "pathMode=home"u8.ToArray()),
        ("application/xml", "<a>1</a>"u8.ToArray()),
        ("multipart/form-data", "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--"u8.ToArray()),
        ("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\u0000.pdf\"\r\n\r\n%PDF\r\n--y--"u8.ToArray()),
        (null, "{}"u8.ToArray()),
        ("application/json; charset=utf-16", "{}"u8.ToArray()));

    private static Gen<(string?, byte[]?)> JsonBodyGen(JsonNode? schema, JsonObject document, Dictionary<string, string[]> known) =>
        ValueGen(schema, document, known, 0).Select(node => ((string?)"application/json", (byte[]?)Encoding.UTF8.GetBytes(node?.ToJsonString() ?? "null")));

    /// <summary>A value for a schema: mostly of its shape, often hostile (another type, overlong, NUL, extremes, deep).</summary>
    private static Gen<JsonNode?> ValueGen(JsonNode? schema, JsonObject document, Dictionary<string, string[]> known, int depth)
    {
        var hostile = Gen.OneOf(
            Gen.OneOf(HostileStrings).Select(s => (JsonNode?)JsonValue.Create(s)),
            Gen.OneOf(-1L, 0L, long.MaxValue, long.MinValue, int.MaxValue + 1L).Select(n => (JsonNode?)JsonValue.Create(n)),
            Gen.OneOf(1e308, -0.5, double.Epsilon).Select(d => (JsonNode?)JsonValue.Create(d)),
            Gen.Const(0).Select(_ => (JsonNode?)null),
            Gen.Const(0).Select(_ => (JsonNode?)JsonValue.Create(true)),
            Gen.Const(0).Select(_ => (JsonNode?)new JsonObject { ["extra"] = "field", ["nested"] = new JsonObject { ["deeper"] = new JsonArray(1, "two") } }),
            Gen.Int[20, 60].Select(levels => Nested(levels)));
        if (depth > 6 || schema is null) return hostile;
        var shaped = Shaped(Resolve(schema, document), document, known, depth);
        if (shaped is null) return hostile;
        return Gen.Frequency((3, shaped), (1, hostile));
    }

    private static Gen<JsonNode?>? Shaped(JsonObject schema, JsonObject document, Dictionary<string, string[]> known, int depth)
    {
        if (schema["enum"] is JsonArray values && values.Count > 0) return Gen.OneOf(values.Select(v => v?.DeepClone()).ToArray());
        var type = schema["type"] switch
        {
            JsonValue v => (string?)v,
            JsonArray a => a.Select(t => (string?)t).FirstOrDefault(t => t != "null"),
            _ => schema["properties"] is not null ? "object" : null,
        };
        switch (type)
        {
            case "object":
                var properties = schema["properties"]?.AsObject().ToList() ?? [];
                var required = schema["required"]?.AsArray().Select(r => (string?)r).ToHashSet() ?? [];
                var gen = Gen.Const(new List<(string, JsonNode?)>());
                foreach (var (name, property) in properties)
                {
                    var value = ValueGen(property, document, known, depth + 1);
                    var maybe = required.Contains(name) ? Gen.Frequency((9, value.Select(v => (true, v))), (1, Gen.Const((false, (JsonNode?)null))))
                        : Gen.Frequency((1, value.Select(v => (true, v))), (1, Gen.Const((false, (JsonNode?)null))));
                    gen = Gen.Select(gen, maybe, (list, m) => { if (m.Item1) list = [.. list, (name, m.Item2)]; return list; });
                }
                return gen.Select(list =>
                {
                    var o = new JsonObject();
                    foreach (var (name, value) in list) o[name] = value?.DeepClone();
                    return (JsonNode?)o;
                });
            case "array":
                return ValueGen(schema["items"], document, known, depth + 1).Array[0, 4]
                    .Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray()));
            case "string":
                return (string?)schema["format"] switch
                {
                    "uuid" => Gen.OneOf(Gen.OneOf(known.Values.SelectMany(v => v).ToArray()), Gen.Guid.Select(g => g.ToString())).Select(s => (JsonNode?)JsonValue.Create(s)),
                    "date-time" => Gen.Int[-400, 400].Select(days => (JsonNode?)JsonValue.Create(DateTimeOffset.UtcNow.AddDays(days).ToString("O"))),
                    _ => Gen.OneOf(Gen.String[0, 30], Gen.OneOf("home", "keep", "hash_dirs", "member", "admin", "owner", "file_opened", "**/*.py",
                        "https://127.0.0.1/hook", "0 9 * * 1-5")).Select(s => (JsonNode?)JsonValue.Create(s)),
                };
            case "integer":
                return Gen.Int[-5, 2000].Select(i => (JsonNode?)JsonValue.Create(i));
            case "number":
                return Gen.Double[-10, 10_000].Select(d => (JsonNode?)JsonValue.Create(d));
            case "boolean":
                return Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b));
            default:
                return null;
        }
    }

    private static JsonObject Resolve(JsonNode schema, JsonObject document)
    {
        var node = schema.AsObject();
        for (var hops = 0; hops < 10 && node["$ref"] is JsonValue reference; hops++)
        {
            var name = ((string)reference!).Split('/')[^1];
            node = document["components"]!["schemas"]![name]!.AsObject();
        }
        if (node["oneOf"] is JsonArray oneOf && oneOf.Count > 0) return Resolve(oneOf[0]!, document);
        if (node["anyOf"] is JsonArray anyOf && anyOf.Count > 0) return Resolve(anyOf.FirstOrDefault(s => (string?)s?["type"] != "null") ?? anyOf[0]!, document);
        return node;
    }

    private static JsonNode? Nested(int levels)
    {
        JsonNode node = new JsonObject { ["leaf"] = 1 };
        for (var i = 0; i < levels; i++) node = i % 2 == 0 ? new JsonArray(node) : new JsonObject { ["n"] = node };
        return node;
    }
}
