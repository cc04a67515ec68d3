using System.Diagnostics;

/// <summary>One instance of the Release build on a fixed loopback port, started again on the same port after a stop.</summary>
sealed class Instance(int index, int port, string app, string work, string secret, string encryptionKey)
{
    public const string Operator = "ops-cluster@example.com";
    private static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromSeconds(2) };
    private Process? _process;

    public int Port => port;

    public void Start()
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(app);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{port}");
        // Staging: Production's settings and guards, except that outbound calls may reach the loopback receiver.
        info.Environment["ENVIRONMENT"] = "staging";
        info.Environment["Integrations__AllowedPrivateNetworks"] = "127.0.0.1/32";
        info.Environment["SECRET_KEY"] = secret;
        info.Environment["ENCRYPTION_KEY"] = encryptionKey;
        info.Environment["CORS_ORIGINS"] = "http://localhost:3000";
        info.Environment["Storage__ForcePathStyle"] = "true";
        info.Environment["Logging__LogLevel__Default"] = "Warning";
        // Rate limiting on, as in production, with limits the workload never reaches, except the exports policy's
        // own (2 a minute, 10 an hour, failing closed), which one tenant runs into on purpose.
        info.Environment["RATE_LIMIT_PER_MINUTE"] = "1000000";
        info.Environment["RATE_LIMIT_PER_HOUR"] = "100000000";
        foreach (var policy in new[] { "auth", "ingest", "uploads" })
        {
            info.Environment[$"RateLimits__Policies__{policy}__PerMinute"] = "1000000";
            info.Environment[$"RateLimits__Policies__{policy}__PerHour"] = "100000000";
        }
        // A SIGTERMed instance answers readiness 503 for 2 s while still serving, so nginx and probes move on first.
        info.Environment["Http__ShutdownDelaySeconds"] = "2";
        info.Environment["Http__TrustedProxies"] = "127.0.0.1";
        // Pattern detection over the millions of events the agents send would take the cores in bursts and blur the
        // throughput per phase; it is measured by bench/patterns.
        info.Environment["FeatureFlags__Overrides__Suggestions"] = "false";
        info.Environment["ADMIN_EMAILS"] = Operator;
        var log = new StreamWriter(Path.Combine(work, $"service-{index}.log"), append: true) { AutoFlush = true };
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public async Task<bool> IsReadyAsync()
    {
        try { return (await Probe.GetAsync($"http://127.0.0.1:{port}/health/ready")).IsSuccessStatusCode; }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await IsReadyAsync())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"instance {index} not ready within {timeout}; see service-{index}.log");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGTERM, as an orchestrator's rolling restart does, and wait for the exit.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (_process is null || _process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) kill.WaitForExit();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>SIGKILL: gone at once, in-flight requests cut.</summary>
    public void Kill()
    {
        if (_process is null || _process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }
}
