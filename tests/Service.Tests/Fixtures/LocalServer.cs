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

    /// <summary>
    /// A PostgreSQL cluster of the test's own (initdb into a temporary directory; run as the postgres user when the
    /// tests run as root, which PostgreSQL refuses), so that it can be paused without touching other test classes.
    /// </summary>
    public static LocalServer Postgres()
    {
        var root = Directory.CreateTempSubdirectory("pg-");
        var data = Path.Combine(root.FullName, "data");
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).OrderBy(d => d).Last();
        var asRoot = Environment.UserName == "root";
        ProcessStartInfo AsPostgres(string program, params string[] args)
        {
            var info = new ProcessStartInfo(asRoot ? "runuser" : Path.Combine(bin, program));
            if (asRoot) foreach (var a in new[] { "-u", "postgres", "--", Path.Combine(bin, program) }) info.ArgumentList.Add(a);
            foreach (var a in args) info.ArgumentList.Add(a);
            return info;
        }
        return new LocalServer("postgres", port =>
        {
            if (asRoot) Run(new ProcessStartInfo("chown", ["-R", "postgres:postgres", root.FullName]));
            Run(AsPostgres("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"));
            return AsPostgres("postgres", "-D", data, "-p", port.ToString(), "-k", root.FullName, "-c", "listen_addresses=127.0.0.1",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");
        }) { _pauseGroup = () => PostgresProcesses(data) };
    }

    private Func<int[]>? _pauseGroup;

    /// <summary>SIGSTOP to the server (and every backend): connections stay open, nothing answers. A hang, not an outage.</summary>
    public void Pause() => Signal("-STOP");

    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        // PostgreSQL: the postmaster and its backends; a single-process server (Redis): itself.
        var pids = _pauseGroup?.Invoke() ?? [_process?.Id ?? throw new InvalidOperationException($"{Name} is not running")];
        Run(new ProcessStartInfo("kill", [signal, .. pids.Select(p => p.ToString())]));
    }

    // The postmaster (first line of postmaster.pid) and its children (backends, background workers).
    private static int[] PostgresProcesses(string data)
    {
        var postmaster = int.Parse(File.ReadLines(Path.Combine(data, "postmaster.pid")).First());
        var children = Directory.GetDirectories("/proc").Select(d => Path.GetFileName(d)).Where(n => n.All(char.IsDigit)).Select(int.Parse)
            .Where(pid =>
            {
                try { return File.ReadAllText($"/proc/{pid}/stat").Split(' ')[3] == postmaster.ToString(); }
                catch (IOException) { return false; }
            });
        return [postmaster, .. children];
    }

    private static void Run(ProcessStartInfo info)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{info.FileName} {string.Join(' ', info.ArgumentList)} failed: {output}");
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
