using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Service.Infrastructure.Security;

namespace Service.Infrastructure.Http;

/// <summary>
/// Tells generated clients how to authenticate: the document declares the bearer (JWT access token) and agent key
/// (X-Api-Key) schemes, and each operation names the ones it accepts (agent keys only where the route's policy lets
/// them in; none on anonymous routes). It also names the API and drops the servers' trailing slash, as OpenAPI
/// tools expect.
/// </summary>
public sealed class OpenApiDocumentDefaults : IOpenApiDocumentTransformer, IOpenApiOperationTransformer
{
    public const string Bearer = "bearer";
    public const string AgentKey = "agentKey";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.AddComponent<IOpenApiSecurityScheme>(Bearer, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "The access token from POST /api/v1/auth/login or /refresh.",
        });
        document.AddComponent<IOpenApiSecurityScheme>(AgentKey, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "X-Api-Key",
            Description = "An organization's agent key (POST /api/v1/orgs/{orgId}/api-keys), for desktop agents.",
        });
        document.Info.Title = "Workflow service API";
        document.Info.Description = "Organizations, members, agent keys, events and uploads of the workflow-automation service. " +
            "Errors are RFC 9457 problem details carrying a traceId; lists page with an opaque cursor.";
        foreach (var server in document.Servers ?? [])
        {
            if (server.Url is { Length: > 1 } url) server.Url = url.TrimEnd('/');
        }
        return Task.CompletedTask;
    }

    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        if (metadata.OfType<IAllowAnonymous>().Any() || !metadata.OfType<IAuthorizeData>().Any())
        {
            operation.Security = []; // none: the document leaves the empty list out, and the operation needs no credentials
            return Task.CompletedTask;
        }
        operation.Security = [Requirement(Bearer, context.Document)];
        if (metadata.OfType<IAuthorizeData>().Any(a => a.Policy == AuthPolicies.OrgIngest))
        {
            operation.Security.Add(Requirement(AgentKey, context.Document));
        }
        return Task.CompletedTask;
    }

    private static OpenApiSecurityRequirement Requirement(string scheme, OpenApiDocument? document) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };
}
