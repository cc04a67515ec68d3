using System.Net;
using Service.Infrastructure.Integrations;
using Service.Infrastructure.Settings;

namespace Service.Tests.Infrastructure.Integrations;

public sealed class OutboundAddressPolicyTests
{
    private static readonly OutboundAddressPolicy Strict = new([]);

    [Theory]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("10.0.0.1", "private")]
    [InlineData("10.255.255.255", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.254", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.8.9.10", "loopback")]
    [InlineData("169.254.169.254", "link-local (cloud metadata)")]
    [InlineData("100.64.0.1", "carrier-grade NAT")]
    [InlineData("100.127.255.254", "carrier-grade NAT")]
    [InlineData("224.0.0.251", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("255.255.255.255", "reserved or broadcast")]
    [InlineData("::", "unspecified")]
    [InlineData("::1", "loopback")]
    [InlineData("fc00::1", "unique local")]
    [InlineData("fd12:3456:789a::1", "unique local")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("::ffff:10.0.0.1", "private")]
    [InlineData("::ffff:169.254.169.254", "link-local (cloud metadata)")]
    [InlineData("::ffff:100.64.0.1", "carrier-grade NAT")]
    [InlineData("::127.0.0.1", "loopback")]
    [InlineData("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)")]
    public void Refused_ranges_are_refused_with_their_reason(string address, string reason) =>
        Assert.Equal(reason, Strict.Refusal(IPAddress.Parse(address)));

    [Theory]
    [InlineData("93.184.216.34")]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("2606:2800:220:1:248:1893:25c8:1946")]
    [InlineData("::ffff:93.184.216.34")]
    public void Public_addresses_are_allowed(string address) => Assert.Null(Strict.Refusal(IPAddress.Parse(address)));

    [Fact]
    public void An_allowed_network_opens_exactly_that_network()
    {
        var policy = new OutboundAddressPolicy(SettingLists.Networks("127.0.0.1/32,10.20.0.0/16"));

        Assert.Null(policy.Refusal(IPAddress.Parse("127.0.0.1")));
        Assert.Null(policy.Refusal(IPAddress.Parse("::ffff:127.0.0.1")));
        Assert.Null(policy.Refusal(IPAddress.Parse("10.20.3.4")));
        Assert.Equal("loopback", policy.Refusal(IPAddress.Parse("127.0.0.2")));
        Assert.Equal("loopback", policy.Refusal(IPAddress.Parse("::1")));
        Assert.Equal("private", policy.Refusal(IPAddress.Parse("10.21.0.1")));
    }
}
