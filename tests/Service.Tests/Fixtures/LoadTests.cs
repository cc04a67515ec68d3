namespace Service.Tests.Fixtures;

/// <summary>
/// Classes that put the machine under load (thousands of concurrent requests), or that listen to process-wide
/// diagnostics (OpenTelemetry sees every test host's spans), join this collection: it never runs in parallel with
/// any other class, so neither their results nor others' latency bounds depend on the neighbours.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LoadTests
{
    public const string Name = "load";
}
