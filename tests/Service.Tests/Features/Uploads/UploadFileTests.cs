using System.Net.Http.Headers;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Service.Tests.Fixtures;
using static Service.Tests.Features.Uploads.UploadRequests;

namespace Service.Tests.Features.Uploads;

/// <summary>Streamed uploads through the API against the real s3rver and PostgreSQL.</summary>
public sealed class UploadFileTests(UploadFileTests.Factory factory) : IClassFixture<UploadFileTests.Factory>
{
    public const int Limit = 12 * MiB;

    public sealed class Factory : ServiceFactory
    {
        public Factory()
        {
            Settings["Uploads:PartSizeBytes"] = (5 * MiB).ToString(); // S3's minimum: an 11 MiB file takes 3 parts
            Settings["Uploads:MaxSizeBytes"] = Limit.ToString();
        }

        private Task<(TestUser Owner, Guid OrgId)>? _org;

        public Task<(TestUser Owner, Guid OrgId)> OrgAsync() => _org ??= CreateAsync();

        private async Task<(TestUser, Guid)> CreateAsync()
        {
            var owner = await this.SignUpAsync();
            return (owner, await owner.CreateOrgAsync("Uploaders"));
        }
    }

    private async Task<(JsonElement Upload, byte[] Downloaded, HttpResponseMessage Download)> RoundTripAsync(TestUser user, Guid orgId, byte[] bytes, string fileName, string contentType)
    {
        var response = await UploadAsync(user.Client, orgId, bytes, fileName, contentType);
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        var details = await user.Client.GetFromJsonAsync<JsonElement>(response.Headers.Location);
        var url = details.GetProperty("downloadUrl").GetString()!;
        using var plain = new HttpClient();
        var download = await plain.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        return (created, await download.Content.ReadAsByteArrayAsync(), download);
    }

    [Theory]
    [InlineData(1000, "notes.txt", "text/plain")]
    [InlineData(11 * MiB, "scan.pdf", "application/pdf")] // three parts
    [InlineData(Limit, "exactly-the-limit.pdf", "application/pdf")]
    public async Task Stores_the_file_and_its_sha256_verified_by_downloading(int size, string fileName, string contentType)
    {
        var (owner, orgId) = await factory.OrgAsync();
        var bytes = contentType == "text/plain" ? "plain text, line after line\n"u8.ToArray().Concat(Enumerable.Repeat((byte)'x', size)).ToArray() : Pdf(size);

        var (upload, downloaded, download) = await RoundTripAsync(owner, orgId, bytes, fileName, contentType);

        Assert.Equal(bytes.Length, upload.GetProperty("sizeBytes").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), upload.GetProperty("sha256").GetString());
        Assert.Equal("ready", upload.GetProperty("status").GetString());
        Assert.Equal(fileName, upload.GetProperty("fileName").GetString());
        Assert.True(bytes.AsSpan().SequenceEqual(downloaded), "downloaded bytes differ from the upload");
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
    }

    [Fact]
    public async Task One_byte_over_the_limit_is_413_and_leaves_no_object_no_row_and_no_incomplete_upload()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var (instance, recorder) = await RecordingS3.InstanceAsync(factory);
        await using var _ = instance;

        var response = await UploadAsync(instance.ClientWithToken(owner.AccessToken), orgId, Pdf(Limit + 1), "too-big.pdf", "application/pdf");

        var problem = await response.ProblemAsync(HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains(Limit.ToString(), problem.GetProperty("detail").GetString());
        var started = Assert.Single(recorder.Requests<InitiateMultipartUploadRequest>());
        var aborted = Assert.Single(recorder.Requests<AbortMultipartUploadRequest>());
        Assert.Equal(started.Key, aborted.Key);
        Assert.Empty(recorder.Requests<CompleteMultipartUploadRequest>());
        Assert.Equal(2, recorder.Requests<UploadPartRequest>().Count); // the third part was never sent

        var s3 = factory.Services.GetRequiredService<IAmazonS3>();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = started.Key });
        Assert.Empty(objects.S3Objects ?? []);
        var list = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads?status=pending");
        Assert.Empty(list.GetProperty("items").EnumerateArray());
        var ready = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads");
        Assert.DoesNotContain(ready.GetProperty("items").EnumerateArray(), u => u.GetProperty("fileName").GetString() == "too-big.pdf");
    }

    [Theory]
    [InlineData("report.pdf", "application/pdf", "MZ")]                    // a Windows executable renamed
    [InlineData("notes.txt", "text/plain", "\u007fELF")]                    // a Linux executable renamed
    [InlineData("setup.exe", "application/octet-stream", "MZ")]
    [InlineData("scan.pdf", "text/plain", "%PDF-1.7")]                      // extension and type disagree
    [InlineData("photo.png", "image/png", "%PDF-1.7")]                      // content is not what it claims
    public async Task Unacceptable_content_is_415(string fileName, string contentType, string leading)
    {
        var (owner, orgId) = await factory.OrgAsync();
        var bytes = System.Text.Encoding.Latin1.GetBytes(leading).Concat(new byte[2000]).ToArray();

        await (await UploadAsync(owner.Client, orgId, bytes, fileName, contentType)).ProblemAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData("../../etc/passwd.txt", "passwd.txt")]
    [InlineData("..\\..\\windows\\win.ini.txt", "win.ini.txt")]
    [InlineData("bell\u0007and\u0000nul.txt", "bellandnul.txt")]
    [InlineData("semi;colon<pipe>|star*.txt", "semi_colon_pipe__star_.txt")]
    [InlineData("..hidden.txt", "hidden.txt")]
    public async Task Hostile_file_names_are_sanitized_and_never_address_another_object(string raw, string expected)
    {
        var (owner, orgId) = await factory.OrgAsync();

        var (upload, downloaded, _) = await RoundTripAsync(owner, orgId, "hello\n"u8.ToArray(), raw, "text/plain");

        Assert.Equal(expected, upload.GetProperty("fileName").GetString());
        Assert.Equal("hello\n"u8.ToArray(), downloaded);
    }

    [Fact]
    public async Task A_long_name_keeps_its_extension_within_128_characters()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var response = await UploadAsync(owner.Client, orgId, "x"u8.ToArray(), new string('a', 300) + ".txt", "text/plain");
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var name = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("fileName").GetString()!;
        Assert.Equal(128, name.Length);
        Assert.EndsWith(".txt", name);
    }

    [Fact]
    public async Task Agent_keys_with_ingest_upload_viewers_do_not_and_other_organizations_see_nothing()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var (_, key) = await owner.CreateApiKeyAsync(orgId, "uploader");
        var agent = factory.ClientWithApiKey(key);
        var byAgent = await UploadAsync(agent, orgId, "from the agent\n"u8.ToArray(), "agent.txt", "text/plain");
        await Identity.EnsureAsync(byAgent, HttpStatusCode.Created);
        var uploaded = await byAgent.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("api_key", uploaded.GetProperty("uploaderType").GetString());

        var viewer = await factory.SignUpAsync();
        await owner.AddMemberAsync(orgId, viewer, "viewer");
        await (await UploadAsync(viewer.Client, orgId, "x"u8.ToArray(), "v.txt", "text/plain")).ProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await viewer.Client.GetAsync(byAgent.Headers.Location)).StatusCode);

        var stranger = await factory.SignUpAsync();
        var otherOrg = await stranger.CreateOrgAsync("Elsewhere");
        await (await stranger.Client.GetAsync(byAgent.Headers.Location)).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.Client.DeleteAsync(byAgent.Headers.Location)).ProblemAsync(HttpStatusCode.NotFound);
        await (await stranger.Client.GetAsync($"/api/v1/orgs/{otherOrg}/uploads/{uploaded.GetProperty("id").GetGuid()}")).ProblemAsync(HttpStatusCode.NotFound);
        await (await UploadAsync(agent, otherOrg, "x"u8.ToArray(), "x.txt", "text/plain")).ProblemAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Delete_removes_the_object_and_is_idempotent()
    {
        var (owner, orgId) = await factory.OrgAsync();
        var response = await UploadAsync(owner.Client, orgId, "bye\n"u8.ToArray(), "bye.txt", "text/plain");
        await Identity.EnsureAsync(response, HttpStatusCode.Created);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync(response.Headers.Location)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await owner.Client.DeleteAsync(response.Headers.Location)).StatusCode);
        await (await owner.Client.GetAsync(response.Headers.Location)).ProblemAsync(HttpStatusCode.NotFound);
        var s3 = factory.Services.GetRequiredService<IAmazonS3>();
        var objects = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = TestServers.S3Bucket, Prefix = $"orgs/{orgId}/uploads/{id}/" });
        Assert.Empty(objects.S3Objects ?? []);
        var deleted = await owner.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads?status=deleted");
        Assert.Contains(deleted.GetProperty("items").EnumerateArray(), u => u.GetProperty("id").GetGuid() == id);
    }

    [Fact]
    public async Task Bad_requests_are_4xx_problems()
    {
        var (owner, orgId) = await factory.OrgAsync();
        await (await owner.Client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/uploads", new { file = "not multipart" })).ProblemAsync(HttpStatusCode.UnsupportedMediaType);
        var noFile = new MultipartFormDataContent { { new StringContent("just a field"), "device" } };
        await (await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/uploads", noFile)).ProblemAsync(HttpStatusCode.BadRequest);
        var broken = new ByteArrayContent("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nunterminated"u8.ToArray());
        broken.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=xyz");
        await (await owner.Client.PostAsync($"/api/v1/orgs/{orgId}/uploads", broken)).ProblemAsync(HttpStatusCode.BadRequest);
        await (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/uploads?limit=0")).ProblemAsync(HttpStatusCode.BadRequest);
        await (await owner.Client.GetAsync($"/api/v1/orgs/{orgId}/uploads?cursor=nope")).ProblemAsync(HttpStatusCode.BadRequest);
    }
}
