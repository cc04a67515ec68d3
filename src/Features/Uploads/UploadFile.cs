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
/// checked by type, extension and leading bytes, hashed, and recorded as ready only after S3 has it. Its row is
/// written as pending before the first byte goes to storage, so no object is ever stored without a row, even when the
/// instance dies between writing the object and recording it: what stays pending is deleted by the cleanup job.
/// </summary>
public static class UploadFile
{
    // Room for the multipart framing and a few small form fields around the file itself.
    private const long MultipartOverheadBytes = 64 * 1024;

    // How long a streamed upload may take before the cleanup job (an hour's grace later) may remove what it wrote.
    private static readonly TimeSpan WriteWindow = TimeSpan.FromHours(1);

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
            .ProducesProblem(StatusCodes.Status409Conflict)
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
                if (!await AnnounceAsync(orgId, id, key, fileName, contentType, request.HttpContext, dataSource, loggers, cancellationToken))
                {
                    return Unavailable(request.HttpContext.Response, TimeSpan.FromSeconds(5));
                }

                WriteOutcome outcome;
                try
                {
                    outcome = await writer.WriteAsync(section.Body, key, contentType,
                        leading => UploadContent.Check(contentType, fileName, leading, allowed), cancellationToken);
                }
                catch
                {
                    await DiscardAsync(id, dataSource); // a broken body, storage failing, the client gone
                    throw;
                }
                switch (outcome)
                {
                    case WriteOutcome.Refused refused:
                        await DiscardAsync(id, dataSource);
                        return Problem(StatusCodes.Status415UnsupportedMediaType, "File type not accepted", refused.Reason);
                    case WriteOutcome.TooLarge:
                        await DiscardAsync(id, dataSource);
                        return TooLarge(limit);
                    case WriteOutcome.Stored stored:
                        return await RecordAsync(orgId, id, key, stored, request.HttpContext, writer, dataSource, loggers);
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

    /// <summary>The pending row, before any byte is stored. False when the database cannot take it (nothing was read or stored).</summary>
    private static async Task<bool> AnnounceAsync(Guid orgId, Guid id, string key, string fileName, string contentType, HttpContext context,
        NpgsqlDataSource dataSource, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var (uploaderType, uploaderId) = context.User.Caller();
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition("""
                INSERT INTO uploads (id, org_id, uploader_type, uploader_id, file_name, content_type, size_bytes, storage_key, status, expires_at)
                VALUES (@id, @orgId, @uploaderType, @uploaderId, @fileName, @contentType, 0, @key, 'pending', now() + @WriteWindow)
                """, new { id, orgId, uploaderType, uploaderId, fileName, contentType, key, WriteWindow }, cancellationToken: cancellationToken));
            return true;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            loggers.CreateLogger(typeof(UploadFile)).LogWarning("Upload {UploadId} not started: the database is unavailable ({Error})", id, e.GetType().Name);
            return false;
        }
    }

    /// <summary>
    /// A file that was not stored leaves the lists at once. Its expiry stays: a write whose answer was lost may still
    /// have stored the object, and the cleanup job deletes the key of every expired row that is not ready.
    /// </summary>
    private static async Task DiscardAsync(Guid id, NpgsqlDataSource dataSource)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE uploads SET status = 'deleted', deleted_at = now() WHERE id = @id AND status = 'pending'", new { id }));
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            // left pending: the cleanup job removes it
        }
    }

    private static async Task<Results<Created<UploadResponse>, ValidationProblem, ProblemHttpResult>> RecordAsync(
        Guid orgId, Guid id, string key, WriteOutcome.Stored stored, HttpContext context, StorageWriter writer, NpgsqlDataSource dataSource, ILoggerFactory loggers)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
            var row = await connection.QuerySingleOrDefaultAsync<UploadRow>(new CommandDefinition($"""
                UPDATE uploads SET status = 'ready', size_bytes = @Size, sha256 = @Sha, completed_at = now(), expires_at = NULL
                WHERE id = @id AND status = 'pending'
                RETURNING {UploadRow.Columns}
                """,
                new { id, Size = stored.SizeBytes, Sha = stored.Sha256 },
                cancellationToken: CancellationToken.None)); // the object is written: record it even if the client left
            if (row is not null) return TypedResults.Created($"/api/v1/orgs/{orgId}/uploads/{id}", row.ToResponse());
            // Deleted while it was being written (the row was listed as pending): the object goes too.
            await writer.DeleteQuietlyAsync(key);
            return Problem(StatusCodes.Status409Conflict, "Upload deleted", "The upload was deleted while it was being written; nothing was kept.");
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
