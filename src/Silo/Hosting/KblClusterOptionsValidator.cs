using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

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
            { Mode: ClusterMode.Redis } when Redis(o) is { } bad => bad,
            { Mode: not ClusterMode.Redis } when o.RedisCaPath.Length > 0 => $"{S}RedisCaPath is only for {S}Mode redis",
            _ when !IPAddress.TryParse(o.AdvertisedAddress, out _) => $"{S}AdvertisedAddress '{o.AdvertisedAddress}' must be an IP address",
            _ when o.ProbeTimeout < TimeSpan.FromMilliseconds(100) || o.ProbeTimeout > TimeSpan.FromMinutes(1) =>
                $"{S}ProbeTimeout {o.ProbeTimeout} must be between 00:00:00.100 and 00:01:00",
            _ when o.MissedProbesLimit is < 1 or > 10 => $"{S}MissedProbesLimit {o.MissedProbesLimit} must be between 1 and 10",
            _ when Port(o.SiloPort, "SiloPort") is { } bad => bad,
            _ when Port(o.GatewayPort, "GatewayPort") is { } bad => bad,
            _ when o.PrimarySiloPort != 0 && Port(o.PrimarySiloPort, "PrimarySiloPort") is { } bad => bad,
            _ when new KblClusterTlsOptionsValidator().Validate(name, o.Tls) is { Failed: true } tls => tls.Failures?.FirstOrDefault() ?? tls.FailureMessage,
            _ => null,
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    /// <summary>
    /// The membership connection string as StackExchange.Redis reads it (<see cref="RedisConnection"/>), with its CA
    /// file; null when it is usable. Messages never quote the string: it holds the AUTH password.
    /// </summary>
    private static string? Redis(KblClusterOptions o)
    {
        ConfigurationOptions redis;
        try
        {
            redis = ConfigurationOptions.Parse(o.Redis);
        }
        catch (ArgumentException e)
        {
            return $"{S}Redis is not a StackExchange.Redis connection string (host:6379,ssl=true,password=…): {e.Message.ReplaceLineEndings(" ")}";
        }

        if (redis.EndPoints.Count == 0)
        {
            return $"{S}Redis names no server (host:6379)";
        }

        if (o.RedisCaPath.Length == 0)
        {
            return null;
        }

        if (!redis.Ssl)
        {
            return $"{S}RedisCaPath is set but {S}Redis does not say ssl=true: the authority would never be asked";
        }

        if (!File.Exists(o.RedisCaPath))
        {
            return $"{S}RedisCaPath '{o.RedisCaPath}' is no file";
        }

        try
        {
            using var authority = X509CertificateLoader.LoadCertificateFromFile(o.RedisCaPath);
            return null;
        }
        catch (CryptographicException e)
        {
            return $"{S}RedisCaPath '{o.RedisCaPath}' is not a certificate (PEM or DER): {e.Message.ReplaceLineEndings(" ")}";
        }
    }

    /// <summary>Why <paramref name="port"/> is no port, or null when it is one.</summary>
    internal static string? Port(int port, string key, string section = S) =>
        port is < 1 or > 65535 ? $"{section}{key} {port} must be a port between 1 and 65535" : null;
}
