using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Service.Infrastructure.Http;

/// <summary>
/// Documents the problem answers the pipeline itself can give on any operation: 500 everywhere, and 400/413 where a
/// body is read. Endpoint-specific problems (404, 409...) come from each endpoint's typed results.
/// </summary>
public sealed class OpenApiProblemResponses : IOpenApiOperationTransformer
{
    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var schema = await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken);
        operation.Responses ??= new OpenApiResponses();
        Add(operation, "500", "An unexpected error; the body carries the traceId to quote.", schema);
        if (operation.RequestBody is not null)
        {
            Add(operation, "400", "The request is malformed or fails validation; field errors are listed.", schema);
            Add(operation, "413", "The request body is larger than allowed.", schema);
        }
    }

    private static void Add(OpenApiOperation operation, string status, string description, IOpenApiSchema schema)
    {
        if (operation.Responses!.ContainsKey(status)) return;
        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = schema } },
        };
    }
}
