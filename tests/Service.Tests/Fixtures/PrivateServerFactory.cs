namespace Service.Tests.Fixtures;

/// <summary>
/// The app against a PostgreSQL or Redis of the class's own (started before the app, stopped after it), which its
/// tests may stop, freeze or restart without touching the servers other classes use. <paramref name="settings"/>
/// are added on top: a test's timeouts, limits.
/// </summary>
public abstract class PrivateServerFactory(LocalServer server, params (string Key, string Value)[] settings) : ServiceFactory
{
    public LocalServer Dependency => server;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await server.StartAsync();
        // PostgreSQL starts empty: the app migrates it at startup.
        if (server.Name == "postgres") Settings["Database:Url"] = $"postgres://postgres@127.0.0.1:{server.Port}/postgres";
        else Settings["Redis:Url"] = $"redis://127.0.0.1:{server.Port}";
        foreach (var (key, value) in settings) Settings[key] = value;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        await server.DisposeAsync();
    }
}
