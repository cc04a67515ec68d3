using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Http;

/// <summary>
/// Enforces Http:MaxRequestBodyBytes for every endpoint that does not declare its own limit
/// (IRequestSizeLimitMetadata, e.g. uploads). A declared Content-Length above it is refused before reading;
/// a chunked body is cut off by the server feature while it is read.
/// </summary>
public sealed class RequestBodyLimit(RequestDelegate next, IOptions<HttpOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        // Declared metadata wins, including a declared null (DisableRequestSizeLimit: the endpoint enforces its own).
        var declared = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>();
        var limit = declared is null ? options.Value.MaxRequestBodyBytes : declared.MaxRequestBodySize;
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = limit;
        if (context.Request.ContentLength > limit)
        {
            throw new BadHttpRequestException($"The request body is larger than the limit of {limit} bytes.", StatusCodes.Status413PayloadTooLarge);
        }
        return next(context);
    }
}
