using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using Service.Infrastructure.Caching;
using Service.Infrastructure.Patterns;

namespace Service.Features.Patterns;

/// <summary>What the pattern slices need, bundled as one parameter.</summary>
public sealed record PatternServices(NpgsqlDataSource DataSource, OrgReadCache Cache, IOptions<PatternOptions> Options);

public sealed record PatternStep(string Type, string? Tool, string Path, bool Exact);

/// <param name="Steps">A sequence's steps in order, a co-occurrence's two files, a schedule's one action.</param>
/// <param name="Schedule">schedule only: the cron expression, its time zone, the minute of the day and the weekdays.</param>
/// <param name="SourceId">schedule only: the user or agent key whose habit it is.</param>
/// <param name="Sessions">Distinct sessions it appeared in (a session counts once however often it repeated it).</param>
/// <param name="Days">Distinct days it appeared on.</param>
/// <param name="Confidence">sequence: of the sessions with the first steps, the share with the last; schedule: the share of working days; co_occurrence: of the sessions with the rarer file, the share with both.</param>
/// <param name="Lift">How many times likelier than chance.</param>
/// <param name="Examples">Up to five example events, newest first.</param>
public sealed record PatternResponse(Guid Id, string Kind, string Fingerprint, IReadOnlyList<PatternStep> Steps, FoundSchedule? Schedule, Guid? SourceId,
    int Sessions, int Days, double Confidence, double Lift, DateTimeOffset FirstSeenAt, DateTimeOffset LastSeenAt, IReadOnlyList<Guid> Examples,
    bool Active, DateTimeOffset DetectedAt, DateTimeOffset UpdatedAt);

public sealed class PatternRow
{
    public const string Columns = """
        id, kind, fingerprint, steps::text AS Steps, schedule::text AS Schedule, source_id AS SourceId, support_sessions AS Sessions,
        support_days AS Days, confidence, lift, first_seen_at AS FirstSeenAt, last_seen_at AS LastSeenAt, examples, active,
        detected_at AS DetectedAt, updated_at AS UpdatedAt
        """;

    public Guid Id { get; init; }
    public string Kind { get; init; } = "";
    public string Fingerprint { get; init; } = "";
    public string Steps { get; init; } = "[]";
    public string? Schedule { get; init; }
    public Guid? SourceId { get; init; }
    public int Sessions { get; init; }
    public int Days { get; init; }
    public double Confidence { get; init; }
    public double Lift { get; init; }
    public DateTime FirstSeenAt { get; init; }
    public DateTime LastSeenAt { get; init; }
    public Guid[] Examples { get; init; } = [];
    public bool Active { get; init; }
    public DateTime DetectedAt { get; init; }
    public DateTime UpdatedAt { get; init; }

    public PatternResponse ToResponse() => new(Id, Kind, Fingerprint,
        JsonSerializer.Deserialize<List<PatternStep>>(Steps, JsonSerializerOptions.Web)!,
        Schedule is null ? null : JsonSerializer.Deserialize<FoundSchedule>(Schedule, JsonSerializerOptions.Web),
        SourceId, Sessions, Days, Math.Round(Confidence, 4), Math.Round(Lift, 3), AsUtc(FirstSeenAt), AsUtc(LastSeenAt), Examples, Active, AsUtc(DetectedAt), AsUtc(UpdatedAt));

    private static DateTimeOffset AsUtc(DateTime at) => new(DateTime.SpecifyKind(at, DateTimeKind.Utc));
}
