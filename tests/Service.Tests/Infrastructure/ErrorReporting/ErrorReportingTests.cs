using System.Diagnostics;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Service.Infrastructure.ErrorReporting;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.ErrorReporting;

/// <summary>
/// Errors reach a local listener playing Sentry's envelope endpoint: the exact envelope, what is scrubbed, what is
/// never sent, and that a dead or rate-limiting Sentry never slows requests.
/// </summary>
public sealed class ErrorReportingTests(ErrorReportingTests.Factory factory) : IClassFixture<ErrorReportingTests.Factory>
{
    public sealed class Factory : ServiceFactory
    {
        public FakeSentry Sentry { get; } = new();

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            Settings["ErrorReporting:Dsn"] = Sentry.Dsn("errors/");
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await Sentry.DisposeAsync();
        }

        /// <summary>Another instance reporting to a Sentry of the test's own.</summary>
        public async Task<ServiceFactory> ReportingToAsync(FakeSentry sentry, params (string Key, string Value)[] settings)
        {
            var instance = await AnotherInstanceAsync();
            instance.Settings["ErrorReporting:Dsn"] = sentry.Dsn();
            foreach (var (key, value) in settings) instance.Settings[key] = value;
            return instance;
        }
    }

    [Fact]
    public async Task An_unhandled_exception_arrives_as_one_envelope_with_the_request_scrubbed()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Crashes");
        await using var sentry = new FakeSentry();
        await using var instance = await factory.ReportingToAsync(sentry);
        var client = instance.CreateDefaultClient(); // no cookie container: it would replace the Cookie header
        var request = new HttpRequestMessage(HttpMethod.Get, $"/test/orgs/{orgId}/throw?token=abc123&page=2&X-Amz-Signature=sig456");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", owner.AccessToken);
        request.Headers.Add("Cookie", "session=cookie789");
        request.Headers.Add("X-Upload-Secret", "wfk_key000"); // (an X-Api-Key would be taken as the credential)
        request.Headers.Add("X-Refresh-Token", "refresh111");
        request.Headers.Add("X-Client-Version", "desktop-2.4");
        request.Headers.Add("X-Request-Id", "req-crash-1");

        var response = await client.SendAsync(request);
        var problem = await response.ProblemAsync(HttpStatusCode.InternalServerError);
        var received = await sentry.NextAsync();

        Assert.Equal("/api/42/envelope/", received.Path);
        Assert.Equal("application/x-sentry-envelope", received.ContentType);
        Assert.Matches(@"^Sentry sentry_version=7, sentry_key=public-key-1, sentry_client=workflow-service/\S+$", received.Auth);
        Assert.Equal(3, received.Lines.Length);
        var eventId = received.Header.GetProperty("event_id").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", eventId);
        Assert.Equal(sentry.Dsn(), received.Header.GetProperty("dsn").GetString());
        Assert.Equal("event", received.ItemHeader.GetProperty("type").GetString());
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(received.Lines[2]), received.ItemHeader.GetProperty("length").GetInt32());

        var e = received.Event;
        Assert.Equal(eventId, e.GetProperty("event_id").GetString());
        Assert.True(e.GetProperty("timestamp").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal("csharp", e.GetProperty("platform").GetString());
        Assert.Equal("fatal", e.GetProperty("level").GetString());
        Assert.Equal("development", e.GetProperty("environment").GetString());
        Assert.False(string.IsNullOrEmpty(e.GetProperty("release").GetString()));
        Assert.Equal(Environment.MachineName, e.GetProperty("server_name").GetString());

        var chain = e.GetProperty("exception").GetProperty("values").EnumerateArray().ToList();
        Assert.Equal(["System.IO.FileNotFoundException", "System.InvalidOperationException"], chain.Select(x => x.GetProperty("type").GetString()!).ToArray());
        Assert.Equal("The report could not be built", chain[1].GetProperty("value").GetString());
        Assert.False(chain[1].GetProperty("mechanism").GetProperty("handled").GetBoolean());
        var frames = chain[0].GetProperty("stacktrace").GetProperty("frames").EnumerateArray().ToList();
        Assert.Contains(frames, f => f.GetProperty("in_app").GetBoolean() == false);
        Assert.All(frames, f => Assert.True(f.TryGetProperty("function", out _)));

        var sent = e.GetProperty("request");
        Assert.Equal("GET", sent.GetProperty("method").GetString());
        var url = sent.GetProperty("url").GetString()!;
        Assert.Contains($"/test/orgs/{orgId}/throw?", url);
        Assert.Contains("page=2", url);
        var headers = sent.GetProperty("headers");
        foreach (var secret in new[] { "Authorization", "Cookie", "X-Upload-Secret", "X-Refresh-Token" })
        {
            Assert.Equal(SentryErrorReporter.Filtered, headers.GetProperty(secret).GetString());
        }
        Assert.Equal("desktop-2.4", headers.GetProperty("X-Client-Version").GetString());
        foreach (var value in new[] { "abc123", "sig456", "cookie789", "wfk_key000", "refresh111", owner.AccessToken, owner.Email })
        {
            Assert.DoesNotContain(value, received.Body);
        }

        Assert.Equal(owner.Id.ToString(), e.GetProperty("user").GetProperty("id").GetString());
        Assert.False(e.GetProperty("user").TryGetProperty("email", out _));
        var tags = e.GetProperty("tags");
        Assert.Equal(orgId.ToString(), tags.GetProperty("org_id").GetString());
        Assert.Equal(owner.Id.ToString(), tags.GetProperty("user_id").GetString());
        Assert.Equal("req-crash-1", tags.GetProperty("request_id").GetString());
        Assert.Equal(problem.GetProperty("traceId").GetString(), e.GetProperty("contexts").GetProperty("trace").GetProperty("trace_id").GetString());
        var crumbs = e.GetProperty("breadcrumbs").GetProperty("values").EnumerateArray().Select(b => b.GetProperty("message").GetString()).ToList();
        Assert.Contains($"Loading the report of {orgId}", crumbs);

        await Task.Delay(500);
        Assert.Single(sentry.Requests); // reported once, not again by the error log line that follows it
    }

    [Theory]
    [InlineData("Authorization", true)]
    [InlineData("cookie", true)]
    [InlineData("Set-Cookie", true)]
    [InlineData("X-Api-Key", true)]
    [InlineData("X-CSRF-Token", true)]
    [InlineData("X-Db-Password", true)]
    [InlineData("X-Client-Version", false)]
    [InlineData("Accept", false)]
    public void Secret_header_names(string name, bool secret) => Assert.Equal(secret, SentryErrorReporter.IsSecret(name));

    [Fact]
    public async Task Expected_4xx_outcomes_and_warnings_are_not_reported()
    {
        await using var sentry = new FakeSentry();
        await using var instance = await factory.ReportingToAsync(sentry);
        var client = instance.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nothing-here")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/test/echo", new { name = "far too long a name", count = 9 })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/auth/me")).StatusCode);
        instance.Services.GetRequiredService<ILogger<ErrorReportingTests>>().LogWarning(new TimeoutException("slow"), "A warning with an exception");
        await Task.Delay(1000);

        Assert.Empty(sentry.Requests);
    }

    [Fact]
    public async Task An_error_logged_with_an_exception_by_a_background_job_is_reported_as_handled()
    {
        await using var sentry = new FakeSentry();
        await using var instance = await factory.ReportingToAsync(sentry, ("ErrorReporting:SendDefaultPii", "true"));
        instance.CreateClient().Dispose();

        instance.Services.GetRequiredService<ILogger<ErrorReportingTests>>().LogError(new InvalidDataException("row 17 is corrupt"), "Nightly import {Job} failed", "imports");
        var e = (await sentry.NextAsync()).Event;

        Assert.Equal("error", e.GetProperty("level").GetString());
        Assert.Equal("Nightly import imports failed", e.GetProperty("message").GetProperty("formatted").GetString());
        Assert.Equal(typeof(ErrorReportingTests).FullName, e.GetProperty("logger").GetString());
        var value = e.GetProperty("exception").GetProperty("values")[0];
        Assert.Equal("System.IO.InvalidDataException", value.GetProperty("type").GetString());
        Assert.True(value.GetProperty("mechanism").GetProperty("handled").GetBoolean());
        Assert.False(e.TryGetProperty("request", out _));
    }

    [Fact]
    public async Task A_dead_sentry_never_slows_requests_and_overflow_is_dropped_and_counted()
    {
        await using var sentry = new FakeSentry { Answer = _ => null }; // accepts, never answers
        await using var instance = await factory.ReportingToAsync(sentry, ("ErrorReporting:QueueCapacity", "2"), ("ErrorReporting:SendTimeoutSeconds", "30"));
        var client = instance.CreateClient();
        var orgId = Guid.NewGuid();

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/test/throw")).StatusCode);
        clock.Stop();

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"20 failing requests took {clock.Elapsed}");
        var queue = instance.Services.GetRequiredService<ErrorReportQueue>();
        Assert.True(queue.Dropped >= 15, $"dropped {queue.Dropped}");
        Assert.Single(sentry.Requests); // the one in flight, still unanswered
    }

    [Fact]
    public async Task A_429_stops_sending_until_the_retry_time()
    {
        await using var sentry = new FakeSentry
        {
            Answer = i => i == 0 ? (HttpStatusCode.TooManyRequests, new Dictionary<string, string> { ["Retry-After"] = "60" }) : (HttpStatusCode.OK, []),
        };
        await using var instance = await factory.ReportingToAsync(sentry);
        var client = instance.CreateClient();

        await client.GetAsync("/test/throw");
        await sentry.NextAsync();
        for (var i = 0; i < 3; i++) await client.GetAsync("/test/throw");
        var queue = instance.Services.GetRequiredService<ErrorReportQueue>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (queue.RateLimited < 4 && DateTime.UtcNow < deadline) await Task.Delay(20);

        Assert.Single(sentry.Requests);
        Assert.Equal(4, queue.RateLimited); // the refused one and the three held back
    }

    [Theory]
    [InlineData("2", 5)]  // five answers of 300 ms fit in 2 s
    [InlineData("0", 1)]  // no time: what is in flight at most
    public async Task Shutdown_sends_what_is_queued_within_its_timeout(string shutdownSeconds, int atMost)
    {
        await using var sentry = new FakeSentry { AnswerDelay = TimeSpan.FromMilliseconds(300) };
        var instance = await factory.ReportingToAsync(sentry, ("ErrorReporting:ShutdownTimeoutSeconds", shutdownSeconds));
        var client = instance.CreateClient();
        for (var i = 0; i < 5; i++) await client.GetAsync("/test/throw");

        await instance.DisposeAsync();
        await Task.Delay(500);

        if (atMost == 5) Assert.Equal(5, sentry.Requests.Count);
        else Assert.True(sentry.Requests.Count <= 2, $"{sentry.Requests.Count} sent with no shutdown time");
    }

    [Theory]
    [InlineData(200, "60:error;transaction:key, 2700:default:organization", null, 2700)]
    [InlineData(200, "60:transaction:key", null, null)]
    [InlineData(429, "30::organization", null, 30)]
    [InlineData(429, null, "120", 120)]
    [InlineData(429, null, null, 60)]
    [InlineData(500, null, "120", null)]
    public void Rate_limit_headers_are_read_as_sentry_defines_them(int status, string? limits, string? retryAfter, int? expectedSeconds)
    {
        var response = new HttpResponseMessage((HttpStatusCode)status);
        if (limits is not null) response.Headers.TryAddWithoutValidation("X-Sentry-Rate-Limits", limits);
        if (retryAfter is not null) response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);

        Assert.Equal(expectedSeconds, ErrorReportSender.RateLimit(response)?.TotalSeconds is { } s ? (int)s : null);
    }

    [Fact]
    public async Task The_dsn_path_is_kept_and_nothing_is_sent_at_sample_rate_zero()
    {
        await (await factory.CreateClient().GetAsync("/test/throw")).ProblemAsync(HttpStatusCode.InternalServerError);
        Assert.Equal("/errors/api/42/envelope/", (await factory.Sentry.NextAsync()).Path);

        await using var sentry = new FakeSentry();
        await using var instance = await factory.ReportingToAsync(sentry, ("ErrorReporting:SampleRate", "0"));
        await instance.CreateClient().GetAsync("/test/throw");
        await Task.Delay(500);
        Assert.Empty(sentry.Requests);
    }
}
