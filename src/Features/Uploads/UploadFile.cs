using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;
using Npgsql;
using Service.Infrastructure.Security;
using Service.Infrastructure.Settings;
using Service.Infrastructure.Storage;

namespace Service.Features.Uploads;

/// <summary>
/// POST multipart/form-data with one file part. The file is streamed to S3 as it arrives (never buffered whole),
/// checked by type, extension and leading bytes, hashed, and recorded as ready only after S3 has it.
/// </summary>
public static class UploadFile
{
    // Room for the multipart framing and a few small form fields around the file itself.
    private const long MultipartOverheadBytes = 64 * 1024;

    public static void Map(RouteGroupBuilder group) =>
        group.MapPost("/", Handle)
            .WithName("UploadFile")
            .WithSummary("Upload a file (multipart, streamed to storage)")
            .RequireAuthorization(AuthPolicies.OrgIngest)
            .WithMetadata(new Microsoft.AspNetCore.Mvc.DisableRequestSizeLimitAttribute()) // Uploads:MaxSizeBytes is enforced while streaming
            // No Accepts("multipart/form-data") metadata: routing would answer 415 before authorization (401/404).
            // The document still shows the form, from this transformer.
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.RequestBody = FormBody;
                return Task.CompletedTask;
            })
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

    private static readonly OpenApiRequestBody FormBody = new()
    {
        Required = true,
        Description = "A form with one file field (other fields are ignored). Streamed to storage as it arrives.",
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["multipart/form-data"] = new()
            {
                Schema = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string> { "file" },
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["file"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = "The file, with its name and content type." },
                    },
                },
            },
        },
    };

    public static async Task<Results<Created<UploadResponse>, ValidationProblem, ProblemHttpResult>> Handle(
        Guid orgId, HttpRequest request, ClaimsPrincipal user, StorageWriter writer, StorageCalls calls, NpgsqlDataSource dataSource,
        IOptions<UploadOptions> options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 and <= 200 } boundary)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Send the file as multipart/form-data", "Use a form with one file field.");
        }
        var limit = options.Value.MaxSizeBytes;
        if (request.ContentLength > limit + MultipartOverheadBytes) return TooLarge(limit);

        try
        {
            // No reader limit: the file is bounded by Uploads:MaxSizeBytes while streaming, with its own 413.
            var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.IsFileDisposition()) continue; // other form fields are ignored

                var fileName = UploadFileName.Sanitize(HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value);
                var contentType = UploadContent.Normalize(section.ContentType ?? "application/octet-stream");
                var allowed = SettingLists.Split(options.Value.AllowedContentTypes);
                var id = Guid.CreateVersion7();
                var key = $"orgs/{orgId}/uploads/{id}/{fileName}";

                var outcome = await writer.WriteAsync(section.Body, key, contentType,
                    leading => UploadContent.Check(contentType, fileName, leading, allowed), cancellationToken);
                switch (outcome)
                {
                    case WriteOutcome.Refused refused:
                        return Problem(StatusCodes.Status415UnsupportedMediaType, "File type not accepted", refused.Reason);
                    case WriteOutcome.TooLarge:
                        return TooLarge(limit);
                    case WriteOutcome.Stored stored:
                        return await RecordAsync(orgId, id, key, fileName, contentType, stored, request.HttpContext, writer, dataSource, loggers);
                }
            }
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["file"] = ["The form has no file part."] });
        }
        catch (Exception e) when (e is InvalidDataException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return Problem(StatusCodes.Status400BadRequest, "Malformed multipart body", "The multipart/form-data body could not be read.");
        }
        catch (Exception e) when (e.IsStorageFailure(cancellationToken))
        {
            loggers.CreateLogger(typeof(UploadFile)).LogWarning("Upload to storage failed ({Error})", e.GetType().Name);
            return Unavailable(request.HttpContext.Response, calls.RetryAfter(e));
        }
    }

    private static async Task<Results<Created<UploadResponse>, ValidationProblem, ProblemHttpResult>> RecordAsync(
        Guid orgId, Guid id, string key, string fileName, string contentType, WriteOutcome.Stored stored, HttpContext context,
        StorageWriter writer, NpgsqlDataSource dataSource, ILoggerFactory loggers)
    {
        var (uploaderType, uploaderId) = context.User.Caller();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
            var row = await connection.QuerySingleAsync<UploadRow>(new CommandDefinition($"""
                INSERT INTO uploads (id, org_id, uploader_type, uploader_id, file_name, content_type, size_bytes, sha256, storage_key, status, completed_at)
                VALUES (@id, @orgId, @uploaderType, @uploaderId, @fileName, @contentType, @Size, @Sha, @key, 'ready', now())
                RETURNING {UploadRow.Columns}
                """,
                new { id, orgId, uploaderType, uploaderId, fileName, contentType, Size = stored.SizeBytes, Sha = stored.Sha256, key },
                cancellationToken: CancellationToken.None)); // the object is written: record it even if the client left
            return TypedResults.Created($"/api/v1/orgs/{orgId}/uploads/{id}", row.ToResponse());
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            loggers.CreateLogger(typeof(UploadFile)).LogWarning("Upload {UploadId} stored but not recorded ({Error}); deleting the object", id, e.GetType().Name);
            await writer.DeleteQuietlyAsync(key);
            return Unavailable(context.Response, TimeSpan.FromSeconds(30));
        }
    }

    private static ProblemHttpResult TooLarge(long limit) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "File too large", $"Files may be at most {limit} bytes.");

    private static ProblemHttpResult Unavailable(HttpResponse response, TimeSpan retryAfter) =>
        StorageFailure.Unavailable(response, retryAfter, "The file could not be stored; nothing was kept. Try again shortly.");

    private static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(statusCode: status, title: title, detail: detail);
}
