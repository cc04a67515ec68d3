using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.ErrorReporting;

/// <summary>Envelopes waiting for the sender; bounded, so a slow or dead Sentry costs memory, never request time.</summary>
public sealed class ErrorReportQueue : IDisposable
{
    private readonly IOptions<ErrorReportingOptions> options;
    private readonly System.Diagnostics.Metrics.Meter _meter = new("Service.ErrorReporting");
    private Channel<byte[]>? _channel;

    public ErrorReportQueue(IOptions<ErrorReportingOptions> options)
    {
        this.options = options;
        _meter.CreateObservableCounter("error_reports.dropped", () => Dropped + RateLimited, "{event}", "Error reports not sent: queue full or Sentry rate limit");
        _meter.CreateObservableCounter("error_reports.sent", () => Sent, "{event}", "Error reports Sentry accepted");
    }

    public void Dispose() => _meter.Dispose();
    private long _dropped;
    private long _rateLimited;
    private long _sent;
    private long _failed;

    // Made on first use (after the startup guard has validated the capacity), by whichever side comes first.
    private Channel<byte[]> Channel => LazyInitializer.EnsureInitialized(ref _channel, () => System.Threading.Channels.Channel.CreateBounded<byte[]>(
        new BoundedChannelOptions(options.Value.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait }));

    public ChannelReader<byte[]> Reader => Channel.Reader;

    public void Enqueue(byte[] envelope)
    {
        if (!Channel.Writer.TryWrite(envelope)) Interlocked.Increment(ref _dropped);
    }

    public void Complete() => Channel.Writer.TryComplete();

    public long Dropped => Interlocked.Read(ref _dropped);
    public long RateLimited => Interlocked.Read(ref _rateLimited);
    public long Sent => Interlocked.Read(ref _sent);
    public long Failed => Interlocked.Read(ref _failed);

    internal void CountRateLimited() => Interlocked.Increment(ref _rateLimited);
    internal void CountSent() => Interlocked.Increment(ref _sent);
    internal void CountFailed() => Interlocked.Increment(ref _failed);
}
