namespace Service.Infrastructure.Http;

/// <summary>A page of a keyset-paginated list; NextCursor is null on the last page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// The paging rules of lists ordered by (timestamp desc, uuid desc): limit 1..max, a cursor from a previous page, and
/// one row more than the page fetched to know whether another page follows.
/// </summary>
public sealed record PageRequest(int Limit, (DateTime At, Guid Id)? After)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Rows to fetch: the page and one more.</summary>
    public int Take => Limit + 1;

    public DateTime? AfterAt => After?.At;
    public Guid? AfterId => After?.Id;

    /// <summary>The request, or null after adding field errors for a bad limit or cursor.</summary>
    public static PageRequest? Read(string? cursor, int? limit, Dictionary<string, string[]> errors, int defaultLimit = DefaultLimit, int maxLimit = MaxLimit)
    {
        var take = limit ?? defaultLimit;
        if (take is < 1 || take > maxLimit) errors["limit"] = [$"Must be from 1 to {maxLimit}."];
        (DateTime At, Guid Id)? after = null;
        if (cursor is not null && (after = PageCursor.TryDecodeGuid(cursor)) is null) errors["cursor"] = ["Not a cursor from a previous page of this list."];
        return errors.Count > 0 ? null : new PageRequest(take, after);
    }

    /// <summary>The rows of the page (the extra one dropped) and the cursor of the next page, if there is one.</summary>
    public (List<TRow> Rows, string? NextCursor) Split<TRow>(IReadOnlyList<TRow> rows, Func<TRow, (DateTime At, Guid Id)> key)
    {
        var page = rows.Take(Limit).ToList();
        if (rows.Count <= Limit) return (page, null);
        var (at, id) = key(page[^1]);
        return (page, PageCursor.Encode(at, id));
    }

    public Page<TItem> ToPage<TRow, TItem>(IReadOnlyList<TRow> rows, Func<TRow, (DateTime At, Guid Id)> key, Func<TRow, TItem> map)
    {
        var (page, next) = Split(rows, key);
        return new Page<TItem>(page.Select(map).ToList(), next);
    }
}

/// <summary>
/// The paging rules of lists ordered by a per-owner number, newest first (a user's notifications): the same limit
/// rules as <see cref="PageRequest"/>, the cursor an opaque form of the last number of the page.
/// </summary>
public sealed record NumberPageRequest(int Limit, long? Before)
{
    public int Take => Limit + 1;

    public static NumberPageRequest? Read(string? cursor, int? limit, Dictionary<string, string[]> errors)
    {
        var take = limit ?? PageRequest.DefaultLimit;
        if (take is < 1 or > PageRequest.MaxLimit) errors["limit"] = [$"Must be from 1 to {PageRequest.MaxLimit}."];
        long? before = null;
        if (cursor is not null)
        {
            if (PageCursor.TryDecode(cursor, out _, out var id) && long.TryParse(id, out var number) && number > 0) before = number;
            else errors["cursor"] = ["Not a cursor from a previous page of this list."];
        }
        return errors.Count > 0 ? null : new NumberPageRequest(take, before);
    }

    public Page<TItem> ToPage<TRow, TItem>(IReadOnlyList<TRow> rows, Func<TRow, long> key, Func<TRow, TItem> map)
    {
        var page = rows.Take(Limit).ToList();
        var next = rows.Count > Limit ? PageCursor.Encode(DateTime.UnixEpoch, key(page[^1]).ToString(System.Globalization.CultureInfo.InvariantCulture)) : null;
        return new Page<TItem>(page.Select(map).ToList(), next);
    }
}

/// <summary>
/// The paging rules of lists ordered by a number, highest first, then id (suggestions by score, patterns by
/// support): the same limit rules as <see cref="PageRequest"/>, the cursor an opaque form of the last row's rank and id.
/// </summary>
public sealed record RankPageRequest(int Limit, (long Rank, Guid Id)? After)
{
    public int Take => Limit + 1;
    public long? AfterRank => After?.Rank;
    public Guid? AfterId => After?.Id;

    public static RankPageRequest? Read(string? cursor, int? limit, Dictionary<string, string[]> errors)
    {
        var take = limit ?? PageRequest.DefaultLimit;
        if (take is < 1 or > PageRequest.MaxLimit) errors["limit"] = [$"Must be from 1 to {PageRequest.MaxLimit}."];
        (long, Guid)? after = null;
        if (cursor is not null)
        {
            if (PageCursor.TryDecode(cursor, out _, out var text) && text.Split('_') is [var rank, var id]
                && long.TryParse(rank, System.Globalization.CultureInfo.InvariantCulture, out var number) && Guid.TryParseExact(id, "N", out var guid))
            {
                after = (number, guid);
            }
            else errors["cursor"] = ["Not a cursor from a previous page of this list."];
        }
        return errors.Count > 0 ? null : new RankPageRequest(take, after);
    }

    public Page<TItem> ToPage<TRow, TItem>(IReadOnlyList<TRow> rows, Func<TRow, (long Rank, Guid Id)> key, Func<TRow, TItem> map)
    {
        var page = rows.Take(Limit).ToList();
        string? next = null;
        if (rows.Count > Limit)
        {
            var (rank, id) = key(page[^1]);
            next = PageCursor.Encode(DateTime.UnixEpoch, $"{rank.ToString(System.Globalization.CultureInfo.InvariantCulture)}_{id:N}");
        }
        return new Page<TItem>(page.Select(map).ToList(), next);
    }
}
