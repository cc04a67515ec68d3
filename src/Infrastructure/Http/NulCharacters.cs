using System.Text.Json;
using System.Text.Json.Serialization;

namespace Service.Infrastructure.Http;

/// <summary>
/// PostgreSQL text cannot hold the NUL character: a string carrying one would fail in the database, after the request
/// was accepted. Request bodies (every string property, through the JSON options) and query strings refuse it up
/// front with a 400 naming the field.
/// </summary>
public static class NulCharacters
{
    public const string Problem = "Must not contain the NUL character (\\u0000).";

    public sealed class RefusingStringConverter : JsonConverter<string>
    {
        public override bool HandleNull => false;

        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var value = reader.GetString();
            return value is not null && value.Contains('\0') ? throw new JsonException(Problem) : value;
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
    }

    /// <summary>Answers 400 with field errors when a query parameter holds a NUL character.</summary>
    public sealed class QueryGuard(RequestDelegate next, IProblemDetailsService problems)
    {
        public async Task InvokeAsync(HttpContext context)
        {
            var refused = context.Request.Query.Where(q => q.Value.Any(v => v?.Contains('\0') == true)).Select(q => q.Key).ToList();
            if (refused.Count == 0)
            {
                await next(context);
                return;
            }
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await problems.WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new HttpValidationProblemDetails(refused.ToDictionary(name => name, _ => new[] { Problem }))
                {
                    Status = StatusCodes.Status400BadRequest,
                    Title = "One or more validation errors occurred.",
                },
            });
        }
    }
}
