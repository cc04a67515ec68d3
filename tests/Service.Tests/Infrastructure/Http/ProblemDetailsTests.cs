using System.Net.Http.Headers;
using System.Text;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Http;

public sealed class ProblemDetailsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private readonly HttpClient _client = factory.CreateClient();

    [Fact]
    public async Task Validation_failures_are_400_with_field_errors()
    {
        var response = await _client.PostAsJsonAsync("/test/echo", new { name = "far-too-long-a-name", count = 9 });
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest);

        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty("Name", out _) || errors.TryGetProperty("name", out _), errors.ToString());
        Assert.True(errors.TryGetProperty("Count", out _) || errors.TryGetProperty("count", out _), errors.ToString());
    }

    [Fact]
    public async Task Malformed_json_is_400_problem_details()
    {
        var response = await _client.PostAsync("/test/echo", new StringContent("{\"name\": ", Encoding.UTF8, "application/json"));
        var problem = await ReadProblemAsync(response, HttpStatusCode.BadRequest);

        Assert.Equal("Malformed request", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_NUL_character_in_a_body_string_or_a_query_value_is_400_naming_the_field_before_it_reaches_the_database()
    {
        var user = await factory.SignUpAsync();
        var body = await ReadProblemAsync(await user.Client.PostAsJsonAsync("/api/v1/orgs", new { name = "Acme\u0000" }), HttpStatusCode.BadRequest);
        Assert.True(body.GetProperty("errors").TryGetProperty("name", out _), body.ToString());

        var query = await ReadProblemAsync(await user.Client.GetAsync("/api/v1/notifications?type=%00"), HttpStatusCode.BadRequest);
        Assert.True(query.GetProperty("errors").TryGetProperty("type", out _), query.ToString());
        Assert.Equal(0, (await user.Client.GetFromJsonAsync<JsonElement>("/api/v1/orgs")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Unparsable_parameters_are_400_problem_details()
    {
        var problem = await ReadProblemAsync(await _client.GetAsync("/test/slow?ms=soon"), HttpStatusCode.BadRequest);

        Assert.Contains("ms", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task A_client_that_disconnects_is_not_logged_as_an_error()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.GetAsync("/test/slow?ms=5000", cts.Token));
        await Task.Delay(500); // let the server side observe the abort and finish logging

        Assert.Contains(factory.Logs.Lines, l => l.Message.Contains("/test/slow aborted by the client"));
        Assert.DoesNotContain(factory.Logs.Lines, l => l.Level >= LogLevel.Error && l.AllText.Contains("/test/slow"));
    }

    [Fact]
    public async Task Unknown_routes_are_404_problem_details()
    {
        await ReadProblemAsync(await _client.GetAsync("/api/v1/nothing-here"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Wrong_methods_are_405_problem_details()
    {
        var response = await _client.DeleteAsync("/health/live");

        await ReadProblemAsync(response, HttpStatusCode.MethodNotAllowed);
        Assert.Contains("GET", response.Content.Headers.Allow);
    }

    [Fact]
    public async Task Bodies_over_the_limit_are_413_problem_details()
    {
        var body = "{\"name\":\"" + new string('x', 1024 * 1024 + 10) + "\",\"count\":1}";
        var response = await _client.PostAsync("/test/echo", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ReadProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("1048576", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task Unhandled_exceptions_are_500_problem_details_and_logged_as_errors()
    {
        var problem = await ReadProblemAsync(await _client.GetAsync("/test/throw"), HttpStatusCode.InternalServerError);

        Assert.Equal("An unexpected error occurred", problem.GetProperty("title").GetString());
        Assert.Contains(factory.Logs.Lines, l => l.Level == LogLevel.Error && l.Exception?.Contains(TestEndpoints.SecretInException) == true);
    }

    [Fact]
    public async Task A_given_X_Request_Id_is_echoed_and_used_in_problems_and_logs()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/no/such/route");
        request.Headers.Add("X-Request-Id", "frontend-req-42");

        var response = await _client.SendAsync(request);
        var problem = await ReadProblemAsync(response, HttpStatusCode.NotFound);

        Assert.Equal("frontend-req-42", response.Headers.GetValues("X-Request-Id").Single());
        Assert.Equal("frontend-req-42", problem.GetProperty("requestId").GetString());
        Assert.Contains(factory.Logs.Lines, l => l.Message.Contains("/no/such/route") && l.Scopes.Contains("RequestId=frontend-req-42"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("has spaces in it")]
    [InlineData("\"quoted\"")]
    public async Task A_missing_or_unsafe_X_Request_Id_is_replaced_by_a_generated_one(string? given)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        if (given is not null) request.Headers.TryAddWithoutValidation("X-Request-Id", given);

        var response = await _client.SendAsync(request);

        Assert.Matches("^[0-9a-f]{32}$", response.Headers.GetValues("X-Request-Id").Single());
    }

    [Fact]
    public async Task An_incoming_traceparent_becomes_the_trace_id_in_problems_and_logs()
    {
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        var request = new HttpRequestMessage(HttpMethod.Get, "/traced/missing");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");

        var problem = await ReadProblemAsync(await _client.SendAsync(request), HttpStatusCode.NotFound);

        Assert.Equal(traceId, problem.GetProperty("traceId").GetString());
        Assert.Contains(factory.Logs.Lines, l => l.Message.Contains("/traced/missing") && l.Scopes.Contains($"TraceId={traceId}"));
    }

    [Fact]
    public async Task Responses_carry_security_headers()
    {
        var response = await _client.GetAsync("/health/live");

        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task Cors_allows_configured_origins_only()
    {
        async Task<HttpResponseMessage> PreflightAsync(string origin)
        {
            var request = new HttpRequestMessage(HttpMethod.Options, "/health/live");
            request.Headers.Add("Origin", origin);
            request.Headers.Add("Access-Control-Request-Method", "GET");
            request.Headers.Add("Access-Control-Request-Headers", "authorization");
            return await _client.SendAsync(request);
        }

        var allowed = await PreflightAsync("https://app.example.com");
        var refused = await PreflightAsync("https://evil.example.com");

        Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Cors_responses_expose_the_headers_a_frontend_reads()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/auth/me");
        request.Headers.Add("Origin", "https://app.example.com");
        var response = await _client.SendAsync(request);

        var exposed = response.Headers.GetValues("Access-Control-Expose-Headers").SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries)).ToList();
        foreach (var header in new[] { "X-Request-Id", "Retry-After", "Location", "ETag", "Idempotent-Replayed", "RateLimit", "RateLimit-Policy",
                     "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset" })
        {
            Assert.Contains(header, exposed, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task The_OpenAPI_document_describes_every_endpoint_with_its_problem_responses()
    {
        var document = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = document.GetProperty("paths");

        foreach (var path in new[] { "/health/live", "/health/ready", "/health/migrations" })
        {
            var get = paths.GetProperty(path).GetProperty("get");
            var responses = get.GetProperty("responses");
            Assert.True(responses.TryGetProperty("200", out _), path);
            Assert.True(responses.GetProperty("500").GetProperty("content").TryGetProperty("application/problem+json", out _), path);
        }
        Assert.True(paths.GetProperty("/health/ready").GetProperty("get").GetProperty("responses").TryGetProperty("503", out _));
        foreach (var operation in paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject()))
        {
            Assert.True(operation.Value.GetProperty("responses").TryGetProperty("500", out _), operation.Name);
        }
    }

    [Fact]
    public async Task The_OpenAPI_document_shows_the_upload_form_and_the_direct_upload_requests()
    {
        var paths = (await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json")).GetProperty("paths");

        var upload = paths.GetProperty("/api/v1/orgs/{orgId}/uploads").GetProperty("post");
        var form = upload.GetProperty("requestBody").GetProperty("content").GetProperty("multipart/form-data").GetProperty("schema");
        Assert.Equal("binary", form.GetProperty("properties").GetProperty("file").GetProperty("format").GetString());
        foreach (var status in new[] { "201", "400", "413", "415", "503" })
        {
            Assert.True(upload.GetProperty("responses").TryGetProperty(status, out _), status);
        }
        var presign = paths.GetProperty("/api/v1/orgs/{orgId}/uploads/presign").GetProperty("post");
        Assert.True(presign.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        var complete = paths.GetProperty("/api/v1/orgs/{orgId}/uploads/{uploadId}/complete").GetProperty("post");
        foreach (var status in new[] { "200", "409", "422", "503" })
        {
            Assert.True(complete.GetProperty("responses").TryGetProperty(status, out _), status);
        }
    }

    private static async Task<JsonElement> ReadProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)expected, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.Matches("^[0-9a-f]{32}$", problem.GetProperty("traceId").GetString());
        return problem;
    }
}

/// <summary>Production hides exception text; everything else about a 500 stays the same.</summary>
public sealed class ProductionProblemDetailsTests : IClassFixture<ProductionProblemDetailsTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public Factory() => EnvironmentName = "Production";
    }

    private readonly HttpClient _client;

    public ProductionProblemDetailsTests(Factory factory) => _client = factory.CreateClient();

    [Fact]
    public async Task A_500_in_Production_reveals_no_exception_text()
    {
        var response = await _client.GetAsync("/test/throw");
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(TestEndpoints.SecretInException, text);
        Assert.DoesNotContain("InvalidOperationException", text);
        Assert.DoesNotContain(" at ", text);
        Assert.Contains("traceId", text);
    }
}
