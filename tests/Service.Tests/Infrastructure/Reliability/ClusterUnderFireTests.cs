using System.Diagnostics;
using Service.Tests.Fixtures;
using Xunit.Abstractions;

namespace Service.Tests.Infrastructure.Reliability;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection
{
    public const string Name = "Cluster under fire";
}

/// <summary>
/// The short profile of bench/cluster: three instances of this build behind nginx, a checked workload (ingest, reads,
/// uploads, workflows every second, on events and by hand calling a webhook receiver, 20 live streams), Redis stopped,
/// PostgreSQL hung, one instance SIGTERMed and one SIGKILLed. Fails when an answer is neither a 2xx nor an expected
/// 4xx or 503 with Retry-After, an acknowledged event is missing or stored twice, an upload lacks its object, a fire or
/// a matching event has no run or two, a run is left unfinished, a webhook-id is answered 2xx twice, a notification
/// misses an open stream, or an instance does not become Ready again. Runs alone (its own collection), on servers of
/// its own, so it neither slows nor disturbs the other tests.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ClusterUnderFireTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_instances_keep_every_promise_through_a_fault_of_each_kind()
    {
        var root = TestServers.RepositoryRoot;
        var testBin = Path.GetDirectoryName(typeof(Program).Assembly.Location)!;
        var configuration = new DirectoryInfo(testBin).Parent!.Name; // Debug or Release, as the tests were built
        var info = new ProcessStartInfo("bash", ["bench/cluster/run.sh"])
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["PROFILE"] = "short";
        info.Environment["PHASE_SECONDS"] = "4";
        info.Environment["AGENTS"] = "3";
        info.Environment["READERS"] = "2";
        info.Environment["APP"] = Path.Combine(root, "bin", configuration, "net10.0", "Service.dll");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
        }
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);
        Assert.True(process.ExitCode == 0, $"the cluster broke a promise (exit {process.ExitCode}):\n{await stdout}\n{await stderr}");
    }
}
