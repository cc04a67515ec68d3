using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Service.Tests.Fixtures;

/// <summary>The built service run as a real process (`dotnet Service.dll`), for behaviour at process level.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    private ServiceProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }
    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Starts the service with only the given environment (plus PATH/HOME), from the test output folder.</summary>
    public static ServiceProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var serviceDll = typeof(Program).Assembly.Location;
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(serviceDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(serviceDll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment.Clear();
        foreach (var name in new[] { "PATH", "HOME", "DOTNET_ROOT" })
        {
            if (Environment.GetEnvironmentVariable(name) is { } value) info.Environment[name] = value;
        }
        info.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (key, value) in environment) info.Environment[key] = value;
        return new ServiceProcess(Process.Start(info)!);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // flush redirected output
        return _process.ExitCode;
    }

    /// <summary>
    /// Starts the service on a free loopback port and waits until it listens. Another process may take the port between
    /// <see cref="FreePort"/> choosing it and the service binding it (tests run in parallel): that start is retried on a
    /// new port.
    /// </summary>
    public static async Task<(ServiceProcess Process, string Url)> StartListeningAsync(IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        for (var attempt = 1; ; attempt++)
        {
            var url = $"http://127.0.0.1:{FreePort()}";
            var process = Start(environment, "--urls", url);
            try
            {
                await process.WaitForOutputAsync("Now listening", timeout);
                return (process, url);
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Stdout.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                await process.DisposeAsync();
            }
        }
    }

    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited) throw new InvalidOperationException($"service exited with {_process.ExitCode} before printing '{text}':\n{Stdout}\n{Stderr}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"service did not print '{text}' within {timeout}:\n{Stdout}\n{Stderr}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGTERM, as an orchestrator stops a pod.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        kill.WaitForExit();
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash or an OOM kill; nothing of it runs afterwards.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
