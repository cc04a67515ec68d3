using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

// Upload throughput through the service vs. straight to S3, and the service's memory while it streams.
// Arguments come from bench/uploads/run.sh: service URL, service PID, S3 endpoint, bucket, file size (MiB),
// part size (bytes), rounds, work directory.
var serviceUrl = args[0];
var servicePid = int.Parse(args[1]);
var s3Endpoint = args[2];
var bucket = args[3];
var sizeMiB = int.Parse(args[4]);
var partSize = int.Parse(args[5]);
var rounds = int.Parse(args[6]);
var work = args[7];
const double MiB = 1024 * 1024;

var file = Path.Combine(work, $"bench-{sizeMiB}MiB.pdf");
if (!File.Exists(file) || new FileInfo(file).Length != sizeMiB * (long)MiB)
{
    Console.WriteLine($"writing a {sizeMiB} MiB test file to {file}");
    await using var output = File.Create(file);
    var block = new byte[(int)MiB];
    for (var i = 0; i < sizeMiB; i++)
    {
        Random.Shared.NextBytes(block);
        if (i == 0) "%PDF-1.7\n"u8.CopyTo(block);
        await output.WriteAsync(block);
    }
}
string expectedSha;
await using (var read = File.OpenRead(file)) expectedSha = Convert.ToHexStringLower(await SHA256.HashDataAsync(read));

using var http = new HttpClient { BaseAddress = new Uri(serviceUrl), Timeout = TimeSpan.FromMinutes(10) };
var email = $"bench-{Guid.NewGuid():N}@example.com";
(await http.PostAsJsonAsync("/api/v1/auth/register", new { email, password = "benchmark passphrase", displayName = "Bench" })).EnsureSuccessStatusCode();
var login = await (await http.PostAsJsonAsync("/api/v1/auth/login", new { email, password = "benchmark passphrase" })).Content.ReadFromJsonAsync<JsonElement>();
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", login.GetProperty("accessToken").GetString());
var org = await (await http.PostAsJsonAsync("/api/v1/orgs", new { name = "Upload benchmark" })).Content.ReadFromJsonAsync<JsonElement>();
var orgId = org.GetProperty("id").GetGuid();

using var s3 = new AmazonS3Client(new BasicAWSCredentials(
    Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID"), Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY")),
    new AmazonS3Config
    {
        ServiceURL = s3Endpoint, ForcePathStyle = true, AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED, ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

// Through the service: one multipart/form-data POST streamed from the file, as a browser or agent sends it.
async Task<(double Seconds, long GrowthBytes)> ThroughServiceAsync()
{
    var baseline = ResidentBytes(servicePid);
    long peak = baseline;
    using var sampling = new CancellationTokenSource();
    var sampler = Task.Run(async () =>
    {
        while (!sampling.IsCancellationRequested)
        {
            peak = Math.Max(peak, ResidentBytes(servicePid));
            await Task.Delay(5);
        }
    });
    var clock = Stopwatch.StartNew();
    await using var stream = File.OpenRead(file);
    using var form = new MultipartFormDataContent();
    var part = new StreamContent(stream, 81920);
    part.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
    form.Add(part, "file", Path.GetFileName(file));
    var response = await http.PostAsync($"/api/v1/orgs/{orgId}/uploads", form);
    var seconds = clock.Elapsed.TotalSeconds;
    sampling.Cancel();
    await sampler;
    var body = await response.Content.ReadAsStringAsync();
    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"upload answered {(int)response.StatusCode}: {body}");
    var upload = JsonDocument.Parse(body).RootElement;
    if (upload.GetProperty("sha256").GetString() != expectedSha) throw new InvalidOperationException("the service stored other bytes");
    (await http.DeleteAsync($"/api/v1/orgs/{orgId}/uploads/{upload.GetProperty("id").GetGuid()}")).EnsureSuccessStatusCode();
    return (seconds, peak - baseline);
}

// Straight to S3: what the service does (parts of the same size, one after another), without the service.
async Task<double> DirectAsync()
{
    var key = $"bench/{Guid.NewGuid():N}.pdf";
    var buffer = new byte[partSize];
    var clock = Stopwatch.StartNew();
    await using var stream = File.OpenRead(file);
    var id = (await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = key, ContentType = "application/pdf" })).UploadId;
    var parts = new List<PartETag>();
    int filled;
    while ((filled = await stream.ReadAtLeastAsync(buffer, partSize, throwOnEndOfStream: false)) > 0)
    {
        using var body = new MemoryStream(buffer, 0, filled, writable: false);
        var uploaded = await s3.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket, Key = key, UploadId = id, PartNumber = parts.Count + 1, PartSize = filled, InputStream = body, UseChunkEncoding = false,
        });
        parts.Add(new PartETag(parts.Count + 1, uploaded.ETag));
    }
    await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = id, PartETags = parts });
    var seconds = clock.Elapsed.TotalSeconds;
    await s3.DeleteObjectAsync(bucket, key);
    return seconds;
}

Console.WriteLine($"warming up (one upload each way, not counted)");
await ThroughServiceAsync();
await DirectAsync();

Console.WriteLine($"\n{sizeMiB} MiB file, {partSize / MiB:0} MiB parts, {rounds} rounds alternating, 127.0.0.1");
Console.WriteLine($"{"round",-6} {"service MiB/s",14} {"direct MiB/s",13} {"ratio",7} {"service RSS growth",19}");
var service = new List<double>();
var direct = new List<double>();
var ratios = new List<double>();
var growths = new List<long>();
for (var round = 1; round <= rounds; round++)
{
    // Alternate the order so drift on the machine does not favour one side.
    double viaService, straight;
    long growth;
    if (round % 2 == 1)
    {
        (viaService, growth) = await ThroughServiceAsync();
        straight = await DirectAsync();
    }
    else
    {
        straight = await DirectAsync();
        (viaService, growth) = await ThroughServiceAsync();
    }
    var s = sizeMiB / viaService;
    var d = sizeMiB / straight;
    service.Add(s); direct.Add(d); ratios.Add(s / d); growths.Add(growth);
    Console.WriteLine($"{round,-6} {s,14:0.0} {d,13:0.0} {s / d,7:0.000} {growth / MiB,15:0.0} MiB");
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
var peakGrowth = growths.Max() / MiB;
Console.WriteLine($"\nmedian: service {Median(service):0.0} MiB/s, direct {Median(direct):0.0} MiB/s, ratio (median of rounds) {Median(ratios):0.000}");
Console.WriteLine($"service resident memory growth during an upload: max {peakGrowth:0.0} MiB over {rounds} rounds (target < 64 MiB): {(peakGrowth < 64 ? "met" : "NOT met")}");
return peakGrowth < 64 ? 0 : 1;

// VmRSS of the service process (what the kernel holds resident for it), in bytes.
static long ResidentBytes(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
    }
    throw new InvalidOperationException($"no VmRSS for process {pid}");
}
