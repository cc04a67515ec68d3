using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Integrations;

/// <summary>
/// Which addresses an outbound call may connect to: public unicast only, unless a network is explicitly allowed
/// (Integrations:AllowedPrivateNetworks). IPv4-mapped and IPv4-compatible IPv6 forms are judged as the IPv4 address
/// they carry, so ::ffff:127.0.0.1 is loopback too.
/// </summary>
public sealed class OutboundAddressPolicy
{
    private static readonly (IPNetwork Network, string Reason)[] Refused =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("100.64.0.0/10"), "carrier-grade NAT"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local (cloud metadata)"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.0.0.0/24"), "IETF protocol assignments"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("198.18.0.0/15"), "benchmarking"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved or broadcast"),
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("fc00::/7"), "unique local"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("fec0::/10"), "site-local"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "local-use NAT64"),
    ];

    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork Ipv4Compatible = IPNetwork.Parse("::/96");

    private readonly IPNetwork[] _allowed;

    public OutboundAddressPolicy(IOptions<IntegrationOptions> options) : this(SettingLists.Networks(options.Value.AllowedPrivateNetworks)) { }

    public OutboundAddressPolicy(IPNetwork[] allowed) => _allowed = allowed;

    /// <summary>Why the address may not be reached (e.g. "loopback"), or null when it may.</summary>
    public string? Refusal(IPAddress address)
    {
        var judged = Embedded(address);
        if (_allowed.Any(n => n.Contains(judged) || n.Contains(address))) return null;
        foreach (var (network, reason) in Refused)
        {
            if (network.BaseAddress.AddressFamily == judged.AddressFamily && network.Contains(judged)) return reason;
        }
        return null;
    }

    /// <summary>The first address of a resolution that may not be reached, with why; null when every one may.</summary>
    public (IPAddress Address, string Reason)? Refusal(IEnumerable<IPAddress> addresses)
    {
        foreach (var address in addresses)
        {
            if (Refusal(address) is { } reason) return (address, reason);
        }
        return null;
    }

    private static IPAddress Embedded(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address;
        if (address.IsIPv4MappedToIPv6) return address.MapToIPv4();
        var bytes = address.GetAddressBytes();
        // ::a.b.c.d (deprecated IPv4-compatible) and 64:ff9b::a.b.c.d (NAT64) reach the IPv4 address in their last 4 bytes.
        if ((Ipv4Compatible.Contains(address) && !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.IPv6Loopback)) || Nat64.Contains(address))
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }
        return address;
    }
}
