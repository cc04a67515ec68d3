using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.ExceptionServices;
using Amazon.S3;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Storage;

namespace Service.Tests.Fixtures;

/// <summary>
/// Passes every call through to a real S3 client (s3rver) and records it, for what s3rver cannot be asked
/// afterwards (it does not implement ListMultipartUploads): e.g. that an incomplete multipart upload was aborted.
/// <see cref="Answers"/> replaces single methods s3rver does not implement at all.
/// </summary>
public class RecordingS3 : DispatchProxy
{
    private IAmazonS3 _inner = null!;

    public ConcurrentQueue<(string Method, object?[] Args)> Calls { get; } = new();

    /// <summary>The real client, for answers that still call it.</summary>
    public IAmazonS3 Inner => _inner;

    /// <summary>Method name → the answer to give instead of calling s3rver.</summary>
    public ConcurrentDictionary<string, Func<object?[], object?>> Answers { get; } = new();

    public static (IAmazonS3 Client, RecordingS3 Recorder) Wrap(IAmazonS3 inner)
    {
        var client = Create<IAmazonS3, RecordingS3>();
        var recorder = (RecordingS3)(object)client;
        recorder._inner = inner;
        return (client, recorder);
    }

    /// <summary>
    /// Another instance of <paramref name="factory"/>'s deployment (its own circuit and jobs) whose S3 client records;
    /// <paramref name="settings"/> may change its settings first. The host is started before this returns.
    /// </summary>
    public static async Task<(ServiceFactory Instance, RecordingS3 Recorder)> InstanceAsync(ServiceFactory factory, Action<Dictionary<string, string?>>? settings = null)
    {
        RecordingS3? recorder = null;
        var instance = await factory.AnotherInstanceAsync();
        settings?.Invoke(instance.Settings);
        instance.TestServices = services => services.AddSingleton<IAmazonS3>(sp =>
        {
            var (client, recording) = Wrap(sp.GetRequiredService<IOptions<StorageOptions>>().Value.CreateClient());
            recorder = recording;
            return client;
        });
        _ = instance.Services.GetRequiredService<IAmazonS3>();
        return (instance, recorder!);
    }

    public IReadOnlyList<T> Requests<T>() => Calls.Select(c => c.Args.FirstOrDefault()).OfType<T>().ToList();

    /// <summary>Keys of every DeleteObjectAsync call, whichever overload (request object or bucket and key).</summary>
    public IReadOnlyList<string> DeletedKeys() => Calls.Where(c => c.Method == nameof(IAmazonS3.DeleteObjectAsync))
        .Select(c => c.Args[0] is Amazon.S3.Model.DeleteObjectRequest r ? r.Key : (string)c.Args[1]!).ToList();

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        Calls.Enqueue((method!.Name, args ?? []));
        if (Answers.TryGetValue(method.Name, out var answer)) return answer(args ?? []);
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
