using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Mvc.Testing;

/// <summary>
/// What the benchmark hosts share: the service (as the factory configures it) on Kestrel at 127.0.0.1:port, serving
/// until SIGTERM or SIGINT. Compiled into each host project that links it.
/// </summary>
static class BenchHost
{
    public static async Task ServeUntilStoppedAsync(WebApplicationFactory<Program> factory, int port, string label)
    {
        factory.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, port));
        factory.StartServer();
        Console.WriteLine($"{label} listening on http://127.0.0.1:{port}");

        var stop = new TaskCompletionSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        await stop.Task;
    }
}
