using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.Observability;

/// <summary>
/// OTLP/HTTP export to a local receiver (the recording listener of the error-reporting tests; OTLP bodies are
/// protobuf, in which names and string attributes stand as plain UTF-8).
/// </summary>
[Collection(LoadTests.Name)] // alone: other hosts' spans would crowd the exporter's queue
public sealed class TelemetryTests(TelemetryTests.Factory factory) : IClassFixture<TelemetryTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public FakeSentry Collector { get; } = new();

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{Collector.Port}";
            Settings["Telemetry:ExportIntervalMilliseconds"] = "200";
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await Collector.DisposeAsync();
        }
    }

    private async Task<string> ReceivedAsync(string path, params string[] fragments)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var match = factory.Collector.Requests.FirstOrDefault(r => r.Path == path && fragments.All(f => r.Body.Contains(f)));
            if (match is not null) return match.Body;
            Assert.True(DateTime.UtcNow < deadline, $"no {path} export with {string.Join(", ", fragments)} within 15 s ({factory.Collector.Requests.Count} requests)");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task A_request_is_exported_as_a_server_span_named_by_its_route_and_custom_metrics_are_exported()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Traced");
        var ingest = await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events",
            new { events = new[] { new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = "/traced.txt" } } });
        await Identity.EnsureAsync(ingest, HttpStatusCode.Created);

        var traces = await ReceivedAsync("/v1/traces", "POST /api/v1/orgs/{orgId:guid}/events/", "http.route");
        Assert.Contains("workflow-service", traces); // service.name resource
        await ReceivedAsync("/v1/traces", "EVALSHA", "db.system"); // the rate limiter's decision, from the Redis instrumentation
        await ReceivedAsync("/v1/traces", "INSERT INTO events"); // Npgsql's span carries the statement

        var upload = await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/uploads", Features.Uploads.UploadRequests.Form("hi\n"u8.ToArray(), "a.txt", "text/plain"));
        await Identity.EnsureAsync(upload, HttpStatusCode.Created);
        await ReceivedAsync("/v1/traces", "s3 PutObject", "POST /api/v1/orgs/{orgId:guid}/uploads/");

        await ReceivedAsync("/v1/metrics", "events.ingested", "feature_flags.evaluations", "EventIngest");
        await ReceivedAsync("/v1/metrics", "http.server.request.duration");
        await ReceivedAsync("/v1/metrics", "dotnet.gc."); // runtime instrumentation
        await ReceivedAsync("/v1/metrics", "db.client.operation.duration"); // Npgsql's metrics
    }

    [Fact]
    public async Task A_stream_tickets_value_never_reaches_a_span()
    {
        var user = await factory.SignUpAsync();
        var ticket = (await (await user.Client.PostAsync("/api/v1/stream/tickets", null)).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ticket").GetString()!;
        await using (var stream = await SseClient.OpenAsync(factory.CreateClient(), $"/api/v1/stream?ticket={ticket}&lastEventId=0")) { }
        await factory.CreateClient().GetAsync($"/api/v1/stream?ticket={ticket}"); // refused: reused

        await ReceivedAsync("/v1/traces", "GET /api/v1/stream/", "ticket=Redacted");
        Assert.DoesNotContain(factory.Collector.Requests, r => r.Body.Contains(ticket[3..]));
    }
}
