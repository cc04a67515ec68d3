using System.Net;
using Microsoft.AspNetCore.Hosting;

namespace Service.Tests.Fixtures;

/// <summary>
/// TestServer leaves the remote address empty. Requests here come from 127.0.0.1, as through a local proxy: then the
/// app's forwarded-headers handling (loopback is trusted) applies to X-Forwarded-For exactly as in production.
/// </summary>
public sealed class LoopbackClient : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            context.Connection.RemoteIpAddress ??= IPAddress.Loopback;
            return nextMiddleware(context);
        });
        next(app);
    };
}
