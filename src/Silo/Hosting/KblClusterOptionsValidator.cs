using System.Net;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

public sealed class KblClusterOptionsValidator : IValidateOptions<KblClusterOptions>
{
    private const string S = "Kbl:Cluster:";

    public ValidateOptionsResult Validate(string? name, KblClusterOptions o)
    {
        var failure = o switch
        {
            { Mode: ClusterMode.Redis } when string.IsNullOrWhiteSpace(o.Redis) =>
                $"{S}Redis must be a Redis connection string (host:6379) when {S}Mode is redis",
            _ when !IPAddress.TryParse(o.AdvertisedAddress, out _) => $"{S}AdvertisedAddress '{o.AdvertisedAddress}' must be an IP address",
            _ when o.ProbeTimeout < TimeSpan.FromMilliseconds(100) || o.ProbeTimeout > TimeSpan.FromMinutes(1) =>
                $"{S}ProbeTimeout {o.ProbeTimeout} must be between 00:00:00.100 and 00:01:00",
            _ when o.MissedProbesLimit is < 1 or > 10 => $"{S}MissedProbesLimit {o.MissedProbesLimit} must be between 1 and 10",
            _ when Port(o.SiloPort, "SiloPort") is { } bad => bad,
            _ when Port(o.GatewayPort, "GatewayPort") is { } bad => bad,
            _ when o.PrimarySiloPort != 0 && Port(o.PrimarySiloPort, "PrimarySiloPort") is { } bad => bad,
            _ => null,
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    /// <summary>Why <paramref name="port"/> is no port, or null when it is one.</summary>
    internal static string? Port(int port, string key, string section = S) =>
        port is < 1 or > 65535 ? $"{section}{key} {port} must be a port between 1 and 65535" : null;
}
