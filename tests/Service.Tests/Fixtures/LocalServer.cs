using System.Diagnostics;
using System.Net.Sockets;

namespace Service.Tests.Fixtures;

/// <summary>
/// A Redis or s3rver process of a test's own, on a free port, that the test may stop and start again (outage tests
/// must not stop the servers other test classes are using).
/// </summary>
public sealed class LocalServer : IAsyncDisposable
{
    private readonly Func<int, ProcessStartInfo> _startInfo;
    private Process? _process;

    private LocalServer(string name, Func<int, ProcessStartInfo> startInfo)
    {
        Name = name;
        _startInfo = startInfo;
        Port = ServiceProcess.FreePort();
    }

    public string Name { get; }
    public int Port { get; }

    public static LocalServer Redis() => new("redis", port =>
    {
        var info = new ProcessStartInfo("redis-server");
        foreach (var a in new[] { "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) info.ArgumentList.Add(a);
        return info;
    });

    public static LocalServer S3(string bucket)
    {
        var data = Directory.CreateTempSubdirectory("s3rver-").FullName;
        var s3rver = Path.Combine(TestServers.RepositoryRoot, ".local", "npm", "node_modules", "s3rver", "bin", "s3rver.js");
        return new LocalServer("s3rver", port =>
        {
            var info = new ProcessStartInfo("node");
            foreach (var a in new[] { s3rver, "-d", data, "-p", port.ToString(), "-a", "127.0.0.1", "--configure-bucket", bucket }) info.ArgumentList.Add(a);
            return info;
        });
    }

    public async Task StartAsync()
    {
        var info = _startInfo(Port);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await AcceptsAsync())
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{Name} did not listen on {Port}");
            await Task.Delay(50);
        }
    }

    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    private async Task<bool> AcceptsAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
