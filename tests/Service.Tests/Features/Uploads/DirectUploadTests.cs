using System.Net.Http.Headers;
using Amazon.S3;
using Amazon.S3.Model;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Service.Tests.Fixtures;
using static Service.Tests.Features.Uploads.UploadRequests;

namespace Service.Tests.Features.Uploads;

/// <summary>
/// Direct-from-browser uploads against the real s3rver and PostgreSQL: presign, PUT straight to S3, complete.
/// s3rver does not verify signatures, so a PUT that breaks the signed size or type reaches it; the completion
/// check is what stops it (on AWS S3 the PUT itself would already fail).
/// </summary>
public sealed class DirectUploadTests(DirectUploadTests.Factory factory) : IClassFixture<DirectUploadTests.Factory>
{
    private const int Limit = 2 * MiB;

    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Uploads:MaxSizeBytes"] = Limit.ToString();
            Settings["Uploads:CleanupIntervalSeconds"] = "86400"; // only the cleanup tests' own instances clean up
        }

        private Task<(TestUser Owner, Guid OrgId)>? _org;

        public Task<(TestUser Owner, Guid OrgId)> OrgAsync() => _org ??= CreateAsync();

        private async Task<(TestUser, Guid)> CreateAsync()
        {
            var owner = await this.SignUpAsync();
            return (owner, await owner.CreateOrgAsync("Direct uploads"));
        }

        /// <summary>An instance cleaning up every second, recording what reaches the S3 client.</summary>
        public Task<(ServiceFactory Instance, RecordingS3 Recorder)> CleaningInstanceAsync() =>
            RecordingS3.InstanceAsync(this, settings => settings["Uploads:CleanupIntervalSeconds"] = "1");
    }

    private static async Task<HttpResponseMessage> PresignAsync(HttpClient client, Guid orgId, string fileName, string contentType, long size) =>
        await client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/uploads/presign", new { fileName, contentType, sizeBytes = size });

    private static async Task<JsonElement> AnnounceAsync(HttpClient client, Guid orgId, string fileName, string contentType, long size)
    {
        var response = await PresignAsync(client, orgId, fileName, contentType, size);
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>What a browser does with the answer: one PUT with the given headers, straight to S3.</summary>
    private static async Task PutAsync(JsonElement presigned, byte[] bytes, string? contentType = null)
    {
        using var plain = new HttpClient();
        var request = new HttpRequestMessage(new HttpMethod(presigned.GetProperty("method").GetString()!), presigned.GetProperty("url").GetString())
        {
            Content = new ByteArrayContent(bytes),
        };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType ?? presigned.GetProperty("headers").GetProperty("content-type").GetString()!);
        var response = await plain.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"PUT answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static Guid IdOf(JsonElement presigned) => presigned.GetProperty("upload").GetProperty("id").GetGuid();

    private static async Task<bool> ObjectExistsAsync(IAmazonS3 s3, Guid orgId, Guid uploadId)
    {
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = $"orgs/{orgId}/uploads/{uploadId}/" });
        return objects.S3Objects is { Count: > 0 };
    }

    [Fact]
    public async Task Presign_put_complete_makes_a_ready_upload_that_downloads_the_same_bytes()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var bytes = Pdf(MiB + 17);

        var presigned = await AnnounceAsync(owner.Client, orgId, "direct.pdf", "application/pdf", bytes.Length);
        Assert.Equal("pending", presigned.GetProperty("upload").GetProperty("status").GetString());
        Assert.Equal("PUT", presigned.GetProperty("method").GetString());
        var url = new Uri(presigned.GetProperty("url").GetString()!);
        var signed = System.Web.HttpUtility.ParseQueryString(url.Query)["X-Amz-SignedHeaders"]!.Split(';');
        Assert.Contains("content-length", signed);
        Assert.Contains("content-type", signed);
        var expiresIn = presigned.GetProperty("expiresAt").GetDateTimeOffset() - DateTimeOffset.UtcNow;
        Assert.InRange(expiresIn, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));
        Assert.Equal(bytes.Length.ToString(), presigned.GetProperty("headers").GetProperty("content-length").GetString());

        await PutAsync(presigned, bytes);
        var completeUrl = presigned.GetProperty("completeUrl").GetString()!;
        var completed = await owner.Client.PostAsync(completeUrl, null);
        await Identity.EnsureAsync(completed, HttpStatusCode.OK);
        var upload = await completed.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("ready", upload.GetProperty("status").GetString());
        Assert.Equal("direct", upload.GetProperty("transfer").GetString());
        Assert.Equal(JsonValueKind.Null, upload.GetProperty("sha256").ValueKind);

        var again = await owner.Client.PostAsync(completeUrl, null); // a retried completion answers the same
        await Identity.EnsureAsync(again, HttpStatusCode.OK);
        Assert.Equal(upload.GetProperty("completedAt").GetDateTimeOffset(), (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("completedAt").GetDateTimeOffset());

        var details = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads/{IdOf(presigned)}");
        using var plain = new HttpClient();
        var downloaded = await plain.GetByteArrayAsync(details.GetProperty("downloadUrl").GetString());
        Assert.True(bytes.AsSpan().SequenceEqual(downloaded), "downloaded bytes differ from the upload");
    }

    [Fact]
    public async Task Completing_before_the_put_is_409_and_the_upload_stays_pending_without_a_download_url()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var presigned = await AnnounceAsync(owner.Client, orgId, "later.txt", "text/plain", 5);

        await (await owner.Client.PostAsync(presigned.GetProperty("completeUrl").GetString(), null)).ProblemAsync(HttpStatusCode.Conflict);

        var details = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads/{IdOf(presigned)}");
        Assert.Equal("pending", details.GetProperty("upload").GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, details.GetProperty("downloadUrl").ValueKind);
        await PutAsync(presigned, "later"u8.ToArray());
        await Identity.EnsureAsync(await owner.Client.PostAsync(presigned.GetProperty("completeUrl").GetString(), null), HttpStatusCode.OK);
    }

    public static TheoryData<string, byte[], string?> Mismatches => new()
    {
        { "size", Pdf(3000), null },                                              // announced 2000 bytes
        { "content", "MZ"u8.ToArray().Concat(new byte[1998]).ToArray(), null },   // an executable announced as a PDF
        { "type", Pdf(2000), "text/plain" },                                      // stored under another content type
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task A_file_that_does_not_match_the_announcement_is_deleted_and_422(string what, byte[] bytes, string? putType)
    {
        var (owner, orgId) = await factory.OrgAsync();
        var presigned = await AnnounceAsync(owner.Client, orgId, $"mismatch-{what}.pdf", "application/pdf", 2000);
        await PutAsync(presigned, bytes, putType);
        var s3 = factory.Services.GetRequiredService<IAmazonS3>();
        Assert.True(await ObjectExistsAsync(s3, orgId, IdOf(presigned)));

        var problem = await (await owner.Client.PostAsync(presigned.GetProperty("completeUrl").GetString(), null)).ProblemAsync(HttpStatusCode.UnprocessableEntity);

        Assert.Contains("deleted", problem.GetProperty("detail").GetString());
        Assert.Contains(what switch { "size" => "3000 arrived", "content" => "content is not", _ => "stored as 'text/plain'" }, problem.GetProperty("detail").GetString());
        Assert.False(await ObjectExistsAsync(s3, orgId, IdOf(presigned)));
        await (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/uploads/{IdOf(presigned)}")).ProblemAsync(HttpStatusCode.NotFound);
        await (await owner.Client.PostAsync(presigned.GetProperty("completeUrl").GetString(), null)).ProblemAsync(HttpStatusCode.NotFound);
        var deleted = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads?status=deleted");
        Assert.Contains(deleted.GetProperty("items").EnumerateArray(), u => u.GetProperty("id").GetGuid() == IdOf(presigned));
        // The uploader is told, with the reason, in their notifications.
        var notices = await owner.Client.GetFromJsonAsync<JsonElement>("/api/v1/notifications?type=upload.refused");
        var notice = Assert.Single(notices.GetProperty("items").EnumerateArray(), n => n.GetProperty("data").GetProperty("uploadId").GetGuid() == IdOf(presigned));
        Assert.Equal(orgId, notice.GetProperty("orgId").GetGuid());
        Assert.Contains($"mismatch-{what}.pdf", notice.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Announcements_are_checked_before_anything_is_signed()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var url = $"/api/v1/orgs/{orgId}/uploads/presign";

        var missing = await (await owner.Client.PostAsJsonAsync(url, new { fileName = "a.pdf" })).ProblemAsync(HttpStatusCode.BadRequest);
        Assert.True(missing.GetProperty("errors").TryGetProperty("ContentType", out _) || missing.GetProperty("errors").TryGetProperty("contentType", out _));
        await (await PresignAsync(owner.Client, orgId, "a.pdf", "application/pdf", 0)).ProblemAsync(HttpStatusCode.BadRequest);
        await (await PresignAsync(owner.Client, orgId, "a.pdf", "application/pdf", Limit + 1)).ProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        await (await PresignAsync(owner.Client, orgId, "setup.exe", "application/octet-stream", 10)).ProblemAsync(HttpStatusCode.UnsupportedMediaType);
        await (await PresignAsync(owner.Client, orgId, "scan.pdf", "text/plain", 10)).ProblemAsync(HttpStatusCode.UnsupportedMediaType);
        var malformed = new StringContent("{\"fileName\": ", System.Text.Encoding.UTF8, "application/json");
        await (await owner.Client.PostAsync(url, malformed)).ProblemAsync(HttpStatusCode.BadRequest);

        var hostile = await AnnounceAsync(owner.Client, orgId, "../../other-org/secret.txt", "text/plain", 10);
        Assert.Equal("secret.txt", hostile.GetProperty("upload").GetProperty("fileName").GetString());
        Assert.Contains($"/orgs/{orgId}/uploads/{IdOf(hostile)}/secret.txt", hostile.GetProperty("url").GetString());
    }

    [Fact]
    public async Task Members_and_agent_keys_announce_viewers_cannot_and_other_organizations_see_nothing()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId, "direct agent");
        var byAgent = await AnnounceAsync(factory.ClientWithApiKey(key), orgId, "agent.txt", "text/plain", 3);
        Assert.Equal("api_key", byAgent.GetProperty("upload").GetProperty("uploaderType").GetString());

        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        await (await PresignAsync(viewer.Client, orgId, "v.txt", "text/plain", 3)).ProblemAsync(HttpStatusCode.Forbidden);
        await (await viewer.Client.PostAsync(byAgent.GetProperty("completeUrl").GetString(), null)).ProblemAsync(HttpStatusCode.Forbidden);

        var stranger = await factory.SignUpAsync();
        var otherOrg = await stranger.CreateOrgAsync("Elsewhere");
        await (await stranger.Client.PostAsync(byAgent.GetProperty("completeUrl").GetString(), null)).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.Client.PostAsync($"/api/v1/orgs/{otherOrg}/uploads/{IdOf(byAgent)}/complete", null)).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_cleanup_job_removes_expired_pending_and_deleted_direct_uploads_and_keeps_the_rest()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var expired = await AnnounceAsync(owner.Client, orgId, "expired.txt", "text/plain", 5);
        await PutAsync(expired, "stale"u8.ToArray());
        var deletedEarly = await AnnounceAsync(owner.Client, orgId, "deleted-early.txt", "text/plain", 5);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync($"/api/v1/orgs/{orgId}/uploads/{IdOf(deletedEarly)}")).StatusCode);
        await PutAsync(deletedEarly, "later"u8.ToArray()); // the URL still works after the delete: the object appears anyway
        var fresh = await AnnounceAsync(owner.Client, orgId, "fresh.txt", "text/plain", 5);
        await PutAsync(fresh, "fresh"u8.ToArray());
        var recent = await AnnounceAsync(owner.Client, orgId, "just-expired.txt", "text/plain", 5); // within the grace period
        await using (var db = TestDatabases.OpenDataSource(factory.DatabaseName))
        {
            await using var connection = await db.OpenConnectionAsync();
            await connection.ExecuteAsync("UPDATE uploads SET expires_at = now() - interval '2 hours' WHERE id = ANY(@ids)",
                new { ids = new[] { IdOf(expired), IdOf(deletedEarly) } });
            await connection.ExecuteAsync("UPDATE uploads SET expires_at = now() - interval '10 minutes' WHERE id = @id", new { id = IdOf(recent) });
        }

        var (instance, recorder) = await factory.CleaningInstanceAsync();
        await using var _ = instance;
        var s3 = factory.Services.GetRequiredService<IAmazonS3>();
        await WaitUntilAsync(async () => !await ObjectExistsAsync(s3, orgId, IdOf(expired)) && !await ObjectExistsAsync(s3, orgId, IdOf(deletedEarly)));

        await using (var db = TestDatabases.OpenDataSource(factory.DatabaseName))
        {
            await using var connection = await db.OpenConnectionAsync();
            await WaitUntilAsync(async () => await connection.ExecuteScalarAsync<int>(
                "SELECT count(*) FROM uploads WHERE id = ANY(@ids) AND status = 'deleted' AND expires_at IS NULL",
                new { ids = new[] { IdOf(expired), IdOf(deletedEarly) } }) == 2);
        }
        Assert.True(await ObjectExistsAsync(s3, orgId, IdOf(fresh)));
        foreach (var kept in new[] { fresh, recent })
        {
            var details = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads/{IdOf(kept)}");
            Assert.Equal("pending", details.GetProperty("upload").GetProperty("status").GetString());
        }
        await Identity.EnsureAsync(await owner.Client.PostAsync(fresh.GetProperty("completeUrl").GetString(), null), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Two_instances_clean_each_expired_upload_exactly_once()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var announced = new List<JsonElement>();
        for (var i = 0; i < 30; i++) announced.Add(await AnnounceAsync(owner.Client, orgId, $"bulk-{i}.txt", "text/plain", 4));
        var ids = announced.Select(IdOf).ToArray();
        await using var db = TestDatabases.OpenDataSource(factory.DatabaseName);
        await using var connection = await db.OpenConnectionAsync();
        await connection.ExecuteAsync("UPDATE uploads SET expires_at = now() - interval '2 hours' WHERE id = ANY(@ids)", new { ids });

        var (a, recorderA) = await factory.CleaningInstanceAsync();
        var (b, recorderB) = await factory.CleaningInstanceAsync();
        await using (a)
        await using (b)
        {
            await WaitUntilAsync(async () => await connection.ExecuteScalarAsync<int>(
                "SELECT count(*) FROM uploads WHERE id = ANY(@ids) AND expires_at IS NULL", new { ids }) == ids.Length);
        }

        var keys = announced.Select(p => $"orgs/{orgId}/uploads/{IdOf(p)}/").ToArray();
        var deletes = recorderA.DeletedKeys().Concat(recorderB.DeletedKeys()).Where(d => keys.Any(k => d.StartsWith(k))).ToList();
        Assert.Equal(ids.Length, deletes.Count);
        Assert.Equal(ids.Length, deletes.Distinct().Count());
        Assert.NotEmpty(recorderA.DeletedKeys().Concat(recorderB.DeletedKeys()));
    }

    [Fact]
    public async Task The_cleanup_job_aborts_multipart_uploads_older_than_a_day_page_by_page()
    {
        // s3rver implements neither ListMultipartUploads nor AbortMultipartUpload: both are answered here, and the
        // test checks which uploads the job chose to abort across two listing pages.
        var (instance, recorder) = await factory.CleaningInstanceAsync();
        await using var _ = instance;
        var now = DateTime.UtcNow;
        MultipartUpload Upload(string id, TimeSpan age) => new() { Key = $"orgs/x/uploads/{id}/f.pdf", UploadId = id, Initiated = now - age };
        recorder.Answers["AbortMultipartUploadAsync"] = _ => Task.FromResult(new AbortMultipartUploadResponse());
        recorder.Answers["ListMultipartUploadsAsync"] = args => Task.FromResult(((ListMultipartUploadsRequest)args[0]!).KeyMarker is null
            ? new ListMultipartUploadsResponse
            {
                MultipartUploads = [Upload("old-1", TimeSpan.FromDays(3)), Upload("new-1", TimeSpan.FromHours(2))],
                IsTruncated = true, NextKeyMarker = "orgs/x/uploads/new-1/f.pdf", NextUploadIdMarker = "new-1",
            }
            : new ListMultipartUploadsResponse
            {
                MultipartUploads = [Upload("old-2", TimeSpan.FromDays(1.5)), Upload("new-2", TimeSpan.FromMinutes(5))],
                IsTruncated = false,
            });

        await WaitUntilAsync(() => Task.FromResult(recorder.Requests<AbortMultipartUploadRequest>().Count >= 2));
        await Task.Delay(1500); // another round must not abort anything else

        var aborted = recorder.Requests<AbortMultipartUploadRequest>().Select(a => a.UploadId).Distinct().Order().ToArray();
        Assert.Equal(["old-1", "old-2"], aborted);
        Assert.Contains(recorder.Requests<ListMultipartUploadsRequest>(), r => r.KeyMarker == "orgs/x/uploads/new-1/f.pdf" && r.UploadIdMarker == "new-1");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met within 30 s");
            await Task.Delay(100);
        }
    }
}
