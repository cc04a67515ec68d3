using System.Net;
using System.Net.Sockets;

namespace Service.Infrastructure.Integrations;

/// <summary>Name resolution for outbound calls; the system resolver in the product.</summary>
public interface IOutboundResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken);
}

public sealed class SystemResolver : IOutboundResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}

/// <summary>The reason an outbound call was not made: its destination resolved to an address the policy refuses.</summary>
public sealed class RefusedAddressException(string host, IPAddress address, string reason)
    : Exception($"{host} resolves to {address}, a {reason} address that integrations may not reach.");

/// <summary>
/// SocketsHttpHandler's ConnectCallback: resolves the host itself and judges every address it gets before opening
/// any socket, at each new connection. Checking only when a URL is saved would let a DNS record changed later (or
/// answering differently per query) point a saved webhook at the service's own network.
/// </summary>
public sealed class OutboundConnector(OutboundAddressPolicy policy, IOutboundResolver resolver)
{
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await resolver.ResolveAsync(host, cancellationToken);
        if (addresses.Length == 0) throw new SocketException((int)SocketError.HostNotFound);
        // Every address, not just the first: a name answering one public and one private address must not get through.
        if (policy.Refusal(addresses) is { } refused) throw new RefusedAddressException(host, refused.Address, refused.Reason);

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
