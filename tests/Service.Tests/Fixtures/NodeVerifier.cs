using System.Collections.Concurrent;
using System.Diagnostics;

namespace Service.Tests.Fixtures;

/// <summary>The Standard Webhooks reference verifier (TypeScript, npm) as a receiver process; scripts/test.sh installs it.</summary>
public sealed class NodeVerifier : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _port = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public sealed record Verification(string Id, string Signature, bool[] Verified);

    public ConcurrentQueue<Verification> Requests { get; } = new();

    private NodeVerifier(params string[] secrets)
    {
        var root = TestServers.RepositoryRoot;
        var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(root, "tests/Service.Tests/Fixtures/standardwebhooks-receiver.cjs"));
        info.ArgumentList.Add(Path.Combine(root, ".local/npm/node_modules/standardwebhooks"));
        foreach (var secret in secrets) info.ArgumentList.Add(secret);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (e.Data.StartsWith("listening ")) _port.TrySetResult(int.Parse(e.Data["listening ".Length..]));
            else Requests.Enqueue(JsonSerializer.Deserialize<Verification>(e.Data, JsonSerializerOptions.Web)!);
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _port.TrySetException(new InvalidOperationException($"node: {e.Data}")); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Port { get; private set; }
    public string Url => $"http://127.0.0.1:{Port}/verify";

    public static async Task<NodeVerifier> StartAsync(params string[] secrets)
    {
        var verifier = new NodeVerifier(secrets);
        verifier.Port = await verifier._port.Task.WaitAsync(TimeSpan.FromSeconds(20));
        return verifier;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited) _process.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
