using System.Net;
using System.Net.Sockets;

namespace Service.Infrastructure.Settings;

/// <summary>Comma-separated list settings (origins, emails, key ids, networks), read one way everywhere.</summary>
public static class SettingLists
{
    public static string[] Split(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>A CIDR network, or a single IP address as the network of just that address.</summary>
    public static bool TryParseNetwork(string entry, out IPNetwork network)
    {
        if (entry.Contains('/')) return IPNetwork.TryParse(entry, out network);
        network = default;
        if (!IPAddress.TryParse(entry, out var address)) return false;
        network = new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128);
        return true;
    }

    public static IPNetwork[] Networks(string value) =>
        Split(value).Select(e => TryParseNetwork(e, out var network) ? network : (IPNetwork?)null).OfType<IPNetwork>().ToArray();

    public static string[] InvalidNetworks(string value) => Split(value).Where(e => !TryParseNetwork(e, out _)).ToArray();
}
