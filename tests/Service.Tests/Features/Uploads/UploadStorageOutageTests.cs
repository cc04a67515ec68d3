using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Amazon.S3;
using Dapper;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Service.Tests.Fixtures;
using static Service.Tests.Features.Uploads.UploadRequests;

namespace Service.Tests.Features.Uploads;

/// <summary>
/// Dependencies failing under the uploads slices: an s3rver of this class's own is stopped during an upload and
/// between requests, and PostgreSQL is cut off after an object was written. Clients get 503 with Retry-After, never
/// a ready row without its object nor an object without its row; once the circuit opens, requests are refused
/// without waiting for S3.
/// </summary>
public sealed class UploadStorageOutageTests(UploadStorageOutageTests.Factory factory) : IClassFixture<UploadStorageOutageTests.Factory>
{
    private const int BreakSeconds = 3;

    public sealed class Factory : ServiceFactory
    {
        public LocalServer S3 { get; } = LocalServer.S3(TestServers.S3Bucket);

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            await S3.StartAsync();
            Settings["Storage:ServiceUrl"] = $"http://127.0.0.1:{S3.Port}";
            Settings["Storage:BreakSeconds"] = BreakSeconds.ToString();
            Settings["Storage:BreakerMinimumThroughput"] = "2";
            Settings["Uploads:PartSizeBytes"] = (5 * MiB).ToString();
        }

        public override async ValueTask DisposeAsync()
        {
            await base.DisposeAsync();
            await S3.DisposeAsync();
        }

        /// <summary>An instance of its own (its own circuit), recording what reaches the S3 client.</summary>
        public Task<(ServiceFactory Instance, RecordingS3 Recorder)> InstanceAsync() => RecordingS3.InstanceAsync(this);
    }

    /// <summary>A request body written in two halves; the second waits until the test lets it go.</summary>
    private sealed class PausingContent(byte[] first, byte[] second) : HttpContent
    {
        public TaskCompletionSource FirstWritten { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Resume { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(first);
            await stream.FlushAsync();
            FirstWritten.TrySetResult();
            await Resume.Task;
            await stream.WriteAsync(second);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = first.Length + second.Length;
            return true;
        }
    }

    private static async Task<JsonElement[]> UploadsNamedAsync(TestUser owner, Guid orgId, string fileName, string status)
    {
        var list = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads?status={status}");
        return list.GetProperty("items").EnumerateArray().Where(u => u.GetProperty("fileName").GetString() == fileName).ToArray();
    }

    [Fact]
    public async Task S3_stopped_mid_upload_is_503_with_no_ready_row()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Mid-upload outage");
        var (instance, recorder) = await factory.InstanceAsync();
        await using var _ = instance;

        var file = Pdf(12 * MiB);
        var (head, tail) = Framing("half.pdf", "application/pdf");
        var body = new PausingContent([.. head, .. file.AsSpan(0, 6 * MiB)], [.. file.AsSpan(6 * MiB), .. tail]);
        body.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        // Without the redirect handler, which would buffer the whole body before sending it.
        var client = instance.CreateDefaultClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", owner.AccessToken);
        var sending = client.PostAsync($"/api/v1/orgs/{orgId}/uploads", body);

        await body.FirstWritten.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(() => recorder.Requests<UploadPartRequest>().Count >= 1); // the multipart upload is under way
        await factory.S3.StopAsync();
        try
        {
            body.Resume.SetResult();
            var response = await sending.WaitAsync(TimeSpan.FromSeconds(60));

            var problem = await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            Assert.Equal("Storage unavailable", problem.GetProperty("title").GetString());
            Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single()) >= 1);
            Assert.Empty(recorder.Requests<CompleteMultipartUploadRequest>());
        }
        finally
        {
            await factory.S3.StartAsync();
        }
        Assert.Empty(await UploadsNamedAsync(owner, orgId, "half.pdf", "ready"));
        Assert.Empty(await UploadsNamedAsync(owner, orgId, "half.pdf", "pending"));
        var s3 = instance.Services.GetRequiredService<IAmazonS3>();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = $"orgs/{orgId}/" });
        Assert.Empty(objects.S3Objects ?? []);
    }

    [Fact]
    public async Task An_open_circuit_answers_503_at_once_and_closes_when_S3_is_back()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Circuit");
        var (instance, recorder) = await factory.InstanceAsync();
        await using var _ = instance;
        var client = instance.ClientWithToken(owner.AccessToken);
        var kept = await UploadAsync(client, orgId, "kept\n"u8.ToArray(), "kept.txt", "text/plain");
        await Identity.EnsureAsync(kept, HttpStatusCode.Created);

        await factory.S3.StopAsync();
        try
        {
            // Two failed calls open the circuit (minimum throughput 2, failure ratio 1).
            for (var i = 0; i < 2; i++)
            {
                await (await UploadAsync(client, orgId, "x\n"u8.ToArray(), $"fail-{i}.txt", "text/plain")).ProblemAsync(HttpStatusCode.ServiceUnavailable);
            }
            var callsBefore = recorder.Calls.Count;
            var clock = Stopwatch.StartNew();
            var refused = await UploadAsync(client, orgId, "x\n"u8.ToArray(), "refused.txt", "text/plain");
            clock.Stop();

            await refused.ProblemAsync(HttpStatusCode.ServiceUnavailable);
            var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single());
            Assert.InRange(retryAfter, 1, BreakSeconds);
            Assert.Equal(callsBefore, recorder.Calls.Count); // S3 was not even asked
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");

            // Deleting while S3 is down keeps the row ready (its object is still there).
            await (await client.DeleteAsync(kept.Headers.Location)).ProblemAsync(HttpStatusCode.ServiceUnavailable);
            var details = await client.GetFromJsonAsync<JsonElement>(kept.Headers.Location);
            Assert.Equal("ready", details.GetProperty("upload").GetProperty("status").GetString());
        }
        finally
        {
            await factory.S3.StartAsync();
        }

        await Task.Delay(TimeSpan.FromSeconds(BreakSeconds + 0.5));
        var after = await UploadAsync(client, orgId, "back\n"u8.ToArray(), "back.txt", "text/plain");
        await Identity.EnsureAsync(after, HttpStatusCode.Created);
        var circuitLog = instance.Logs.Lines.Where(l => l.Message.StartsWith("s3 circuit")).Select(l => l.Message.Split(' ')[2]).ToArray();
        Assert.Equal(["opened", "half-open:", "closed:"], circuitLog);
        Assert.Empty(await UploadsNamedAsync(owner, orgId, "refused.txt", "ready"));
    }

    [Fact]
    public async Task Database_lost_after_the_object_was_written_is_503_and_the_object_is_deleted()
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Database outage");
        await using var proxy = PostgresProxy();
        var (instance, recorder) = await InstanceLosingTheDatabaseOnceWrittenAsync(proxy);
        await using var _ = instance;

        var response = await UploadAsync(instance.ClientWithToken(owner.AccessToken), orgId, "orphan\n"u8.ToArray(), "orphan.txt", "text/plain");

        await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
        Assert.True(response.Headers.Contains("Retry-After"));
        var written = Assert.Single(recorder.Requests<PutObjectRequest>());
        Assert.Contains(written.Key, recorder.DeletedKeys());
        var s3 = instance.Services.GetRequiredService<IAmazonS3>();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = written.Key });
        Assert.Empty(objects.S3Objects ?? []);
        Assert.Empty(await UploadsNamedAsync(owner, orgId, "orphan.txt", "ready"));
    }

    [Fact]
    public async Task An_object_neither_recorded_nor_deleted_keeps_a_row_and_the_cleanup_job_removes_it()
    {
        // As when the instance dies between writing the object and recording it: the row written before the first
        // byte is what lets the cleanup job find the object (before, nothing pointed at it any more).
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Unrecorded object");
        await using var proxy = PostgresProxy();
        var (instance, recorder) = await InstanceLosingTheDatabaseOnceWrittenAsync(proxy);
        await using (instance)
        {
            recorder.Answers["DeleteObjectAsync"] = _ => Task.FromException<DeleteObjectResponse>(new HttpRequestException("storage unreachable"));

            var response = await UploadAsync(instance.ClientWithToken(owner.AccessToken), orgId, "unrecorded\n"u8.ToArray(), "unrecorded.txt", "text/plain");
            await response.ProblemAsync(HttpStatusCode.ServiceUnavailable);
        }

        var key = Assert.Single(recorder.Requests<PutObjectRequest>()).Key;
        var s3 = factory.Services.GetRequiredService<IAmazonS3>();
        Assert.NotEmpty((await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = key })).S3Objects ?? []);
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        Assert.Equal("pending", await connection.ExecuteScalarAsync<string>("SELECT status FROM uploads WHERE storage_key = @key AND expires_at IS NOT NULL", new { key }));
        Assert.Empty(await UploadsNamedAsync(owner, orgId, "unrecorded.txt", "ready"));

        // Its time and the grace passed: a cleaning instance deletes the object and settles the row.
        await connection.ExecuteAsync("UPDATE uploads SET expires_at = now() - interval '3 hours' WHERE storage_key = @key", new { key });
        var (cleaner, _) = await RecordingS3.InstanceAsync(factory, settings => settings["Uploads:CleanupIntervalSeconds"] = "1");
        await using (cleaner)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while ((await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = key })).S3Objects is { Count: > 0 })
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the cleanup job did not delete the unrecorded object");
                await Task.Delay(100);
            }
        }
        Assert.Equal("deleted", await connection.ExecuteScalarAsync<string>("SELECT status FROM uploads WHERE storage_key = @key", new { key }));
    }

    private static TcpProxy PostgresProxy()
    {
        var postgres = new Uri(TestServers.PostgresAdminUrl);
        return new TcpProxy(postgres.Host, postgres.Port);
    }

    /// <summary>An instance reaching the database through <paramref name="proxy"/>, which is cut as soon as an object is written.</summary>
    private async Task<(ServiceFactory Instance, RecordingS3 Recorder)> InstanceLosingTheDatabaseOnceWrittenAsync(TcpProxy proxy)
    {
        var (instance, recorder) = await RecordingS3.InstanceAsync(factory, settings =>
        {
            settings["Database:Url"] = $"postgres://postgres@127.0.0.1:{proxy.Port}/{factory.DatabaseName}";
            settings["Database:ConnectTimeoutSeconds"] = "1";
        });
        recorder.Answers["PutObjectAsync"] = args => recorder.Inner.PutObjectAsync((PutObjectRequest)args[0]!, (CancellationToken)args[1]!)
            .ContinueWith(written => { proxy.Cut(); return written; }).Unwrap();
        return (instance, recorder);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met within 30 s");
            await Task.Delay(20);
        }
    }
}
