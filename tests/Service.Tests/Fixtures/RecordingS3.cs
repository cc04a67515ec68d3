using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Amazon.S3;

namespace Service.Tests.Fixtures;

/// <summary>
/// Passes every call through to a real S3 client (s3rver) and records it, for what s3rver cannot be asked
/// afterwards (it does not implement ListMultipartUploads): e.g. that an incomplete multipart upload was aborted.
/// </summary>
public class RecordingS3 : DispatchProxy
{
    private IAmazonS3 _inner = null!;

    public ConcurrentQueue<(string Method, object? Request)> Calls { get; } = new();

    public static (IAmazonS3 Client, RecordingS3 Recorder) Wrap(IAmazonS3 inner)
    {
        var client = Create<IAmazonS3, RecordingS3>();
        var recorder = (RecordingS3)(object)client;
        recorder._inner = inner;
        return (client, recorder);
    }

    public IReadOnlyList<T> Requests<T>() => Calls.Select(c => c.Request).OfType<T>().ToList();

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        Calls.Enqueue((method!.Name, args?.FirstOrDefault()));
        try
        {
            return method.Invoke(_inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Throw(e.InnerException);
            throw;
        }
    }
}
