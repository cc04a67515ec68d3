namespace Service.Infrastructure.Http;

/// <summary>A page of a keyset-paginated list; NextCursor is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// The paging rules of lists ordered by (timestamp desc, uuid desc): limit 1..max, a cursor from a previous page, and
/// one row more than the page fetched to know whether another page follows.
/// </summary>
public sealed record PageRequest(int Limit, DateTime? AfterAt, Guid? AfterId)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Rows to fetch: the page and one more.</summary>
    public int Take => Limit + 1;

    /// <summary>The request, or null after adding field errors for a bad limit or cursor.</summary>
    public static PageRequest? Read(string? cursor, int? limit, Dictionary<string, string[]> errors)
    {
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit) errors["limit"] = [$"Must be from 1 to {MaxLimit}."];
        (DateTime At, Guid Id)? after = null;
        if (cursor is not null && (after = PageCursor.TryDecodeGuid(cursor)) is null) errors["cursor"] = ["Not a cursor from a previous page of this list."];
        return errors.Count > 0 ? null : new PageRequest(take, after?.At, after?.Id);
    }

    public Page<TItem> ToPage<TRow, TItem>(IReadOnlyList<TRow> rows, Func<TRow, (DateTime At, Guid Id)> key, Func<TRow, TItem> map)
    {
        var page = rows.Take(Limit).ToList();
        string? next = null;
        if (rows.Count > Limit)
        {
            var (at, id) = key(page[^1]);
            next = PageCursor.Encode(at, id);
        }
        return new Page<TItem>(page.Select(map).ToList(), next);
    }
}
