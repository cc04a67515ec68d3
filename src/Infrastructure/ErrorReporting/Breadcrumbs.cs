namespace Service.Infrastructure.ErrorReporting;

public sealed record Breadcrumb(DateTimeOffset Timestamp, string Category, string Level, string Message);

/// <summary>
/// The last log lines, kept per request (in the HttpContext) or, outside requests, for the process: sent with an
/// error so operators see what led to it.
/// </summary>
public sealed class Breadcrumbs(IHttpContextAccessor http)
{
    private static readonly object ItemKey = new();
    private readonly Ring _process = new();
    private int _capacity = 30;

    public int Capacity { get => _capacity; set => _capacity = value; }

    public void Add(Breadcrumb breadcrumb)
    {
        if (_capacity == 0) return;
        var ring = _process;
        if (http.HttpContext is { } context)
        {
            if (context.Items.TryGetValue(ItemKey, out var existing)) ring = (Ring)existing!;
            else context.Items[ItemKey] = ring = new Ring();
        }
        ring.Add(breadcrumb, _capacity);
    }

    public IReadOnlyList<Breadcrumb> Current() =>
        (http.HttpContext?.Items.TryGetValue(ItemKey, out var ring) == true ? (Ring)ring! : _process).Snapshot();

    private sealed class Ring
    {
        private readonly Queue<Breadcrumb> _items = new();

        public void Add(Breadcrumb breadcrumb, int capacity)
        {
            lock (_items)
            {
                _items.Enqueue(breadcrumb);
                while (_items.Count > capacity) _items.Dequeue();
            }
        }

        public IReadOnlyList<Breadcrumb> Snapshot()
        {
            lock (_items) return _items.ToArray();
        }
    }
}
