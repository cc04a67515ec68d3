using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Service.Infrastructure.Http;

/// <summary>
/// Documents the problem answers the pipeline itself can give on any operation: 500 everywhere, 400/413 where a
/// body is read, 401/403 where a caller must be authenticated, 404 where the route is scoped to an organization
/// (non-members see nothing). Endpoint-specific problems (409...) come from each endpoint's own metadata.
/// </summary>
public sealed class OpenApiProblemResponses : IOpenApiOperationTransformer
{
    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        // One shared schema: the component the framework's own problem responses use, added here if none did yet.
        if (context.Document is { } document && document.Components?.Schemas?.ContainsKey(nameof(ProblemDetails)) != true)
        {
            document.AddComponent(nameof(ProblemDetails), await context.GetOrCreateSchemaAsync(typeof(ProblemDetails), null, cancellationToken));
        }
        IOpenApiSchema schema = new OpenApiSchemaReference(nameof(ProblemDetails), context.Document);
        operation.Responses ??= new OpenApiResponses();
        Add(operation, "500", "An unexpected error; the body carries the traceId to quote.", schema);
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (!metadata.OfType<Microsoft.AspNetCore.Authorization.IAllowAnonymous>().Any())
        {
            Add(operation, "401", "No valid access token or agent key was sent.", schema);
            Add(operation, "403", "The caller is authenticated but lacks the role or permission.", schema);
            if (context.Description.RelativePath?.Contains("{orgId}", StringComparison.Ordinal) == true)
            {
                Add(operation, "404", "The organization does not exist, or the caller is not a member of it.", schema);
            }
        }
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
