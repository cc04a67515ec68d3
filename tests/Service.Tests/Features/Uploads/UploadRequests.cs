using System.Net.Http.Headers;

namespace Service.Tests.Features.Uploads;

/// <summary>Files and multipart bodies for the uploads tests.</summary>
public static class UploadRequests
{
    public const int MiB = 1024 * 1024;

    public static byte[] Pdf(int size)
    {
        var bytes = new byte[size];
        Random.Shared.NextBytes(bytes);
        "%PDF-1.7\n"u8.CopyTo(bytes);
        return bytes;
    }

    /// <summary>Written by hand: HttpClient's form content refuses the hostile names a raw client can send.</summary>
    public static ByteArrayContent Form(byte[] bytes, string fileName, string contentType)
    {
        var (head, tail) = Framing(fileName, contentType);
        var content = new ByteArrayContent([.. head, .. bytes, .. tail]);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={Boundary}");
        return content;
    }

    public const string Boundary = "test-boundary-7d1f";

    /// <summary>The multipart framing around one file part (after a small text field, as browsers send forms).</summary>
    public static (byte[] Head, byte[] Tail) Framing(string fileName, string contentType) => (
        System.Text.Encoding.UTF8.GetBytes(
            $"--{Boundary}\r\nContent-Disposition: form-data; name=\"device\"\r\n\r\nlaptop-42\r\n" +
            $"--{Boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{fileName.Replace("\"", "\\\"")}\"\r\nContent-Type: {contentType}\r\n\r\n"),
        System.Text.Encoding.ASCII.GetBytes($"\r\n--{Boundary}--\r\n"));

    public static async Task<HttpResponseMessage> UploadAsync(HttpClient client, Guid orgId, byte[] bytes, string fileName, string contentType) =>
        await client.PostAsync($"/api/v1/orgs/{orgId}/uploads", Form(bytes, fileName, contentType));
}
