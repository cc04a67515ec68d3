namespace Service.Infrastructure.Database;

/// <summary>
/// A timestamptz as Dapper hands it to a row (a DateTime, UTC) turned into the DateTimeOffset a response shows. The
/// kind is set explicitly so that a value read without it can never be taken for local time.
/// </summary>
public static class DatabaseTime
{
    public static DateTimeOffset AsUtc(this DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    public static DateTimeOffset? AsUtc(this DateTime? value) => value is { } v ? v.AsUtc() : null;
}
