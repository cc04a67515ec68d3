using System.Diagnostics;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Features.Docs;

/// <summary>
/// The OpenAPI document as generated clients and linters read it, and the API reference people open at /docs.
/// The lint runs @redocly/cli (installed by scripts/test.sh into .local/npm) with its recommended rules.
/// </summary>
public sealed class DocsEndpointsTests(ServiceFactory factory, ITestOutputHelper output) : IClassFixture<ServiceFactory>
{
    [Fact]
    public async Task The_OpenAPI_document_passes_redocly_lint_without_errors()
    {
        var document = await factory.CreateClient().GetStringAsync("/openapi/v1.json");
        var file = Path.Combine(Path.GetTempPath(), $"openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, document);
        try
        {
            var (exitCode, stdout, stderr) = await RunAsync(Redocly(), "lint", file, "--format=json");
            output.WriteLine(stderr);
            var report = JsonDocument.Parse(stdout[stdout.IndexOf('{')..]).RootElement;
            var totals = report.GetProperty("totals");
            var problems = report.GetProperty("problems").EnumerateArray()
                .Select(p => $"{p.GetProperty("severity").GetString()} {p.GetProperty("ruleId").GetString()}: {p.GetProperty("message").GetString()}").ToList();
            output.WriteLine(string.Join(Environment.NewLine, problems));
            Assert.True(totals.GetProperty("errors").GetInt32() == 0, string.Join(Environment.NewLine, problems));
            Assert.Equal(0, exitCode);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Every_operation_has_an_id_a_tag_a_summary_its_security_and_shared_problem_responses()
    {
        var document = await factory.CreateClient().GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var schemes = document.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("Workflow service API", document.GetProperty("info").GetProperty("title").GetString());
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        Assert.Equal("X-Api-Key", schemes.GetProperty("agentKey").GetProperty("name").GetString());

        var ids = new List<string>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                var where = $"{operation.Name.ToUpperInvariant()} {path.Name}";
                var body = operation.Value;
                ids.Add(body.GetProperty("operationId").GetString()!);
                Assert.NotEmpty(body.GetProperty("tags").EnumerateArray());
                Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("summary").GetString()), where);
                var security = body.TryGetProperty("security", out var requirements) // left out where empty: an anonymous route
                    ? requirements.EnumerateArray().SelectMany(r => r.EnumerateObject().Select(s => s.Name)).ToList()
                    : [];
                if (path.Name.StartsWith("/health", StringComparison.Ordinal) || path.Name.StartsWith("/api/v1/auth/login", StringComparison.Ordinal))
                {
                    Assert.Empty(security);
                }
                else if (path.Name.EndsWith("/events", StringComparison.Ordinal) && operation.Name == "post")
                {
                    Assert.Equal(["bearer", "agentKey"], security);
                }
                else if (path.Name.StartsWith("/api/v1/orgs", StringComparison.Ordinal))
                {
                    Assert.Contains("bearer", security);
                }
                foreach (var response in body.GetProperty("responses").EnumerateObject().Where(r => r.Name.StartsWith('4') || r.Name.StartsWith('5')))
                {
                    if (!response.Value.TryGetProperty("content", out var content) || !content.TryGetProperty("application/problem+json", out var problem)) continue;
                    // The shared problem schema; validation failures use the framework's one with field errors.
                    Assert.Contains(problem.GetProperty("schema").GetProperty("$ref").GetString(),
                        new[] { "#/components/schemas/ProblemDetails", "#/components/schemas/HttpValidationProblemDetails" });
                }
            }
        }
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(document.GetProperty("servers").EnumerateArray(), s => Assert.False(s.GetProperty("url").GetString()!.EndsWith('/')));
    }

    [Fact]
    public async Task The_API_reference_page_loads_its_own_script_under_a_nonce_policy()
    {
        var client = factory.CreateClient();
        var page = await client.GetAsync("/docs");
        var html = await page.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("\"url\":\"openapi/v1.json\"", html); // relative to the page's base, /docs/
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        var nonce = System.Text.RegularExpressions.Regex.Match(policy, "'nonce-([^']+)'").Groups[1].Value;
        Assert.NotEmpty(nonce);
        Assert.Contains($"nonce=\"{nonce}\"", html);
        Assert.DoesNotContain("cdn.jsdelivr.net", html);
        Assert.DoesNotContain("fonts.scalar.com", html);
        var again = await client.GetAsync("/docs");
        Assert.DoesNotContain(nonce, again.Headers.GetValues("Content-Security-Policy").Single()); // fresh per response

        var script = System.Text.RegularExpressions.Regex.Match(html, "<script[^>]*src=\"([^\"]+)\"").Groups[1].Value;
        var asset = await client.GetAsync(new Uri(new Uri(client.BaseAddress!, "/docs/"), script));
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        Assert.True((await asset.Content.ReadAsByteArrayAsync()).Length > 100_000, "the bundled reference script is served by the service itself");
        Assert.Equal("default-src 'none'; frame-ancestors 'none'", (await client.GetAsync("/health/live")).Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task The_API_reference_is_off_outside_Development_unless_enabled()
    {
        await using var production = await factory.AnotherInstanceAsync();
        production.EnvironmentName = "Production";
        Assert.Equal(HttpStatusCode.NotFound, (await production.CreateClient().GetAsync("/docs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await production.CreateClient().GetAsync("/openapi/v1.json")).StatusCode);

        await using var enabled = await factory.AnotherInstanceAsync();
        enabled.EnvironmentName = "Production";
        enabled.Settings["Docs:Enabled"] = "true";
        Assert.Equal(HttpStatusCode.OK, (await enabled.CreateClient().GetAsync("/docs")).StatusCode);
    }

    private static string Redocly()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Service.csproj"))) directory = directory.Parent;
        var redocly = Path.Combine(directory?.FullName ?? "", ".local", "npm", "node_modules", ".bin", "redocly");
        return File.Exists(redocly) ? redocly : throw new FileNotFoundException($"{redocly} is missing: ./scripts/test.sh installs it");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["REDOCLY_TELEMETRY"] = "off";
        info.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
