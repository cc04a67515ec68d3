using Dapper;
using System.Diagnostics;
using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Service.Infrastructure.ErrorReporting;
using Service.Infrastructure.Observability;
using Service.Tests.Fixtures;

namespace Service.Tests.Infrastructure.ErrorReporting;

/// <summary>
/// Errors reach a local listener playing Sentry's envelope endpoint through the Sentry SDK: what is sent, what is
/// scrubbed, what is never sent, and that a dead or rate-limiting Sentry never slows requests. The SDK's hub is
/// process-wide, so each test starts the one reporting instance it needs (the class's own factory does not report).
/// </summary>
public sealed class ErrorReportingTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private async Task<ServiceFactory> ReportingToAsync(FakeSentry sentry, string dsnPath = "", params (string Key, string Value)[] settings)
    {
        var instance = await factory.AnotherInstanceAsync();
        instance.Settings["ErrorReporting:Dsn"] = sentry.Dsn(dsnPath);
        foreach (var (key, value) in settings) instance.Settings[key] = value;
        return instance;
    }

    [Fact]
    public async Task An_unhandled_exception_arrives_as_one_event_with_the_request_scrubbed()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Crashes");
        await using var sentry = new FakeSentry();
        await using var instance = await ReportingToAsync(sentry, "errors/");
        var client = instance.CreateDefaultClient(); // no cookie container: it would replace the Cookie header
        var request = new HttpRequestMessage(HttpMethod.Get, $"/test/orgs/{orgId}/throw?token=abc123&page=2&X-Amz-Signature=sig456&ticket=st_ticket222");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", owner.AccessToken);
        request.Headers.Add("Cookie", "session=cookie789");
        request.Headers.Add("X-Upload-Secret", "wfk_key000"); // (an X-Api-Key would be taken as the credential)
        request.Headers.Add("X-Refresh-Token", "refresh111");
        request.Headers.Add("X-Client-Version", "desktop-2.4");
        request.Headers.Add("X-Request-Id", "req-crash-1");

        var response = await client.SendAsync(request);
        var problem = await response.ProblemAsync(HttpStatusCode.InternalServerError);
        var received = await sentry.NextAsync();

        Assert.Equal("/errors/api/42/envelope/", received.Path); // the DSN's path is kept
        Assert.Equal("gzip", received.ContentEncoding);
        Assert.Contains("sentry_key=public-key-1", received.Auth);
        var e = received.Event;
        var eventId = e.GetProperty("event_id").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", eventId);
        Assert.Equal(eventId, received.Header.GetProperty("event_id").GetString());
        Assert.True(e.GetProperty("timestamp").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal("csharp", e.GetProperty("platform").GetString());
        Assert.Equal("development", e.GetProperty("environment").GetString());
        Assert.Equal(ServiceDiagnostics.Version, e.GetProperty("release").GetString());
        Assert.Equal(Environment.MachineName, e.GetProperty("server_name").GetString());

        var chain = e.GetProperty("exception").GetProperty("values").EnumerateArray().ToList();
        Assert.Equal(["System.IO.FileNotFoundException", "System.InvalidOperationException"], chain.Select(x => x.GetProperty("type").GetString()!).ToArray());
        Assert.Equal("The report could not be built", chain[1].GetProperty("value").GetString());
        Assert.False(chain[1].GetProperty("mechanism").GetProperty("handled").GetBoolean());
        Assert.True(chain[1].GetProperty("stacktrace").GetProperty("frames").GetArrayLength() > 0);

        var sent = e.GetProperty("request");
        Assert.Equal("GET", sent.GetProperty("method").GetString());
        Assert.Contains($"/test/orgs/{orgId}/throw", sent.GetProperty("url").GetString());
        Assert.Contains("page=2", sent.GetProperty("query_string").GetString());
        var headers = sent.GetProperty("headers");
        foreach (var secret in new[] { "Authorization", "Cookie", "X-Upload-Secret", "X-Refresh-Token" })
        {
            // Filtered by us, or left out by the SDK.
            if (headers.TryGetProperty(secret, out var value)) Assert.Equal(ErrorReportScrubbing.Filtered, value.GetString());
        }
        Assert.Equal("desktop-2.4", headers.GetProperty("X-Client-Version").GetString());
        foreach (var value in new[] { "abc123", "sig456", "st_ticket222", "cookie789", "wfk_key000", "refresh111", owner.AccessToken, owner.Email })
        {
            Assert.DoesNotContain(value, received.Body); // nowhere: not in the request, the breadcrumbs or the tags
        }

        Assert.Equal(owner.Id.ToString(), e.GetProperty("user").GetProperty("id").GetString());
        Assert.False(e.GetProperty("user").TryGetProperty("email", out _));
        var tags = e.GetProperty("tags");
        Assert.Equal(orgId.ToString(), tags.GetProperty("org_id").GetString());
        Assert.Equal(owner.Id.ToString(), tags.GetProperty("user_id").GetString());
        Assert.Equal("req-crash-1", tags.GetProperty("request_id").GetString());
        Assert.Equal(problem.GetProperty("traceId").GetString(), tags.GetProperty("trace_id").GetString());
        Assert.Equal(problem.GetProperty("traceId").GetString(), e.GetProperty("contexts").GetProperty("trace").GetProperty("trace_id").GetString());
        var crumbs = e.GetProperty("breadcrumbs").EnumerateArray().Select(b => b.GetProperty("message").GetString()!).ToList();
        var crumb = Assert.Single(crumbs, c => c.StartsWith($"Loading the report of {orgId}", StringComparison.Ordinal));
        Assert.Contains("page=2", crumb); // the logged URL stays readable, its token does not

        await Task.Delay(500);
        Assert.Single(sentry.Events); // reported once, not again by the error log line that follows it
    }

    [Fact]
    public async Task An_error_while_storing_a_batch_reports_nothing_that_the_privacy_policy_keeps_out()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Private crashes");
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(Features.Privacy.UpdatePrivacyPolicyTests.Url(orgId),
            Features.Privacy.UpdatePrivacyPolicyTests.Body("home", excludeGlobs: ["**/.ssh/**"], dropMetadataKeys: ["password"])), HttpStatusCode.OK);
        var marker = Guid.NewGuid().ToString("N")[..12];
        // The database refuses the batch after the policy has been applied to it: a failure in the middle of storing.
        var trigger = $"fail_{Guid.NewGuid():N}";
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await db.CreateCommand($"""
            CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'storage refused the row'; END $$;
            CREATE TRIGGER {trigger} BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.org_id = '{orgId}') EXECUTE FUNCTION {trigger}();
            """).ExecuteNonQueryAsync();
        try
        {
            await using var sentry = new FakeSentry();
            await using var instance = await ReportingToAsync(sentry);
            var client = instance.ClientWithToken(owner.AccessToken);
            var response = await client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new
            {
                events = new object[]
                {
                    new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = $"/home/ana{marker}/.ssh/id_rsa" },
                    new { type = "file_modified", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = $"/home/ana{marker}/notes.md", metadata = new { password = $"pw{marker}" } },
                },
            });
            await response.ProblemAsync(HttpStatusCode.InternalServerError);
            var listed = await client.GetAsync($"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString($"/home/ana{marker}/")}&limit=0");
            await listed.ProblemAsync(HttpStatusCode.BadRequest);
            var received = await sentry.NextAsync();

            Assert.Contains("storage refused the row", received.Body);
            Assert.DoesNotContain(marker, received.Body);
            Assert.DoesNotContain(instance.Logs.Lines, l => l.AllText.Contains(marker, StringComparison.Ordinal));
            await using var connection = await db.OpenConnectionAsync();
            Assert.Equal(0, await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM audit_log a WHERE a::text LIKE '%' || @marker || '%'", new { marker }));
        }
        finally
        {
            await db.CreateCommand($"DROP TRIGGER {trigger} ON events; DROP FUNCTION {trigger}();").ExecuteNonQueryAsync();
        }
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
    public void Secret_header_names(string name, bool secret) => Assert.Equal(secret, ErrorReportScrubbing.IsSecret(name));

    [Fact]
    public async Task An_agent_key_is_never_sent_and_names_the_caller_by_id()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Agents");
        var (keyId, secret) = await owner.CreateApiKeyAsync(orgId);
        await using var sentry = new FakeSentry();
        await using var instance = await ReportingToAsync(sentry);
        var client = instance.CreateDefaultClient();
        var request = new HttpRequestMessage(HttpMethod.Get, "/test/throw");
        request.Headers.Add("X-Api-Key", secret);

        Assert.Equal(HttpStatusCode.InternalServerError, (await client.SendAsync(request)).StatusCode);
        var received = await sentry.NextAsync();

        Assert.DoesNotContain(secret, received.Body);
        Assert.Equal(keyId.ToString(), received.Event.GetProperty("tags").GetProperty("api_key_id").GetString());
        Assert.Equal($"api_key:{keyId}", received.Event.GetProperty("user").GetProperty("id").GetString());
    }

    [Fact]
    public async Task Expected_4xx_outcomes_cancellations_and_warnings_are_not_reported()
    {
        await using var sentry = new FakeSentry();
        await using var instance = await ReportingToAsync(sentry);
        var client = instance.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/nothing-here")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/test/echo", new { name = "far too long a name", count = 9 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/test/echo", new StringContent("{not json", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/auth/me")).StatusCode);
        using (var aborted = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync("/test/slow?ms=5000", aborted.Token));
        }
        var logger = instance.Services.GetRequiredService<ILogger<ErrorReportingTests>>();
        logger.LogWarning(new TimeoutException("slow"), "A warning with an exception");
        logger.LogError(new OperationCanceledException(), "A cancelled job");
        await Task.Delay(1000);

        Assert.Empty(sentry.Events);
    }

    [Fact]
    public async Task An_error_logged_with_an_exception_by_a_background_job_is_reported_as_handled()
    {
        await using var sentry = new FakeSentry();
        await using var instance = await ReportingToAsync(sentry, settings: ("ErrorReporting:SendDefaultPii", "true"));
        instance.CreateClient().Dispose();

        instance.Services.GetRequiredService<ILogger<ErrorReportingTests>>().LogError(new InvalidDataException("row 17 is corrupt"), "Nightly import {Job} failed", "imports");
        var e = (await sentry.NextAsync()).Event;

        Assert.Equal("error", e.GetProperty("level").GetString());
        Assert.Equal("Nightly import imports failed", e.GetProperty("logentry").GetProperty("formatted").GetString());
        Assert.Equal(typeof(ErrorReportingTests).FullName, e.GetProperty("logger").GetString());
        var value = e.GetProperty("exception").GetProperty("values")[0];
        Assert.Equal("System.IO.InvalidDataException", value.GetProperty("type").GetString());
        Assert.True(value.GetProperty("mechanism").GetProperty("handled").GetBoolean());
        Assert.False(e.TryGetProperty("request", out var request) && request.TryGetProperty("url", out _)); // no request behind it
    }

    [Fact]
    public async Task A_dead_sentry_never_slows_requests_and_overflow_is_dropped()
    {
        await using var sentry = new FakeSentry { Answer = _ => null }; // accepts, never answers
        await using var instance = await ReportingToAsync(sentry, settings: [("ErrorReporting:QueueCapacity", "2"), ("ErrorReporting:SendTimeoutSeconds", "30")]);
        var client = instance.CreateClient();

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync("/test/throw")).StatusCode);
        clock.Stop();
        await Task.Delay(500);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"20 failing requests took {clock.Elapsed}");
        Assert.Single(sentry.Requests); // the one in flight, still unanswered; the queue holds 2, the rest was dropped
    }

    [Fact]
    public async Task A_429_stops_sending_until_the_retry_time()
    {
        var refused = 0;
        await using var sentry = new FakeSentry
        {
            // The instance's first event is refused (not whatever the process happened to send first).
            Answer = r => r.IsEvent && !r.IsProcessWide && Interlocked.Increment(ref refused) == 1
                ? (HttpStatusCode.TooManyRequests, new Dictionary<string, string> { ["Retry-After"] = "60" })
                : (HttpStatusCode.OK, []),
        };
        await using var instance = await ReportingToAsync(sentry);
        var client = instance.CreateClient();

        await client.GetAsync("/test/throw");
        await sentry.NextAsync();
        for (var i = 0; i < 3; i++) await client.GetAsync("/test/throw");
        await Task.Delay(1000);

        Assert.Single(sentry.Events);
    }

    [Theory]
    [InlineData("3", 5, 300)]   // five answers of 300 ms fit in 3 s
    // No time: nothing more than what was being sent. The SDK sends while the host stops, before its own shutdown;
    // answers slower than any host stop keep that from counting as "sent at shutdown" on a loaded machine.
    [InlineData("0", 1, 1500)]
    public async Task Shutdown_sends_what_is_queued_within_its_timeout(string shutdownSeconds, int atMost, int answerMilliseconds)
    {
        await using var sentry = new FakeSentry { AnswerDelay = TimeSpan.FromMilliseconds(answerMilliseconds) };
        var instance = await ReportingToAsync(sentry, settings: ("ErrorReporting:ShutdownTimeoutSeconds", shutdownSeconds));
        var client = instance.CreateClient();
        for (var i = 0; i < 5; i++) await client.GetAsync("/test/throw");

        var sentBefore = sentry.Events.Count; // the receiver counts a send when it starts: in flight included
        var clock = Stopwatch.StartNew();
        await instance.DisposeAsync();
        clock.Stop();
        await Task.Delay(500);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(int.Parse(shutdownSeconds) + 2), $"shutdown took {clock.Elapsed}");
        if (atMost == 5) Assert.True(5 == sentry.Events.Count, $"{sentry.Events.Count} of 5 sent ({sentBefore} before shutdown, which took {clock.Elapsed}; requests {sentry.Requests.Count}: {sentry.Describe()})");
        else Assert.True(sentry.Events.Count <= sentBefore + 1, $"{sentry.Events.Count - sentBefore} more sent after a shutdown with no time for it");
    }

    [Fact]
    public async Task Nothing_is_sent_at_sample_rate_zero()
    {
        await using var sentry = new FakeSentry();
        await using var instance = await ReportingToAsync(sentry, settings: ("ErrorReporting:SampleRate", "0"));
        await instance.CreateClient().GetAsync("/test/throw");
        await Task.Delay(500);
        Assert.Empty(sentry.Requests);
    }
}
