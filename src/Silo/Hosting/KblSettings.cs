using Kbl.Hosting;
using Kbl.NodeGroups;
using Kbl.Placement;
using Kbl.Provisioning;
using Kbl.Silo.Gateway;
using Kbl.Storage;

namespace Kbl.Silo.Hosting;

/// <summary>Every setting the silo reads, bound and checked up front so a mistake stops it with one line.</summary>
public sealed record KblSettings(
    KblOptions Kbl,
    KblPlacementOptions Placement,
    KblClusterOptions Cluster,
    KblGatewayOptions Gateway,
    KblStorageOptions Storage,
    SqliteGrainStorageOptions Sqlite,
    DynamoDbGrainStorageOptions DynamoDb,
    KblAuthOptions Auth,
    KblTelemetryOptions Telemetry,
    ProvisioningOptions Provisioning,
    ProvisioningPolicyOptions Policy,
    IReadOnlyList<Uri> Urls)
{
    /// <summary>Running under Kubernetes: <c>Kbl:Cluster:Kubernetes</c>, by default whether <c>POD_NAMESPACE</c> is set.</summary>
    public bool Kubernetes => RunsInKubernetes(Cluster);

    public static KblSettings Load(IConfiguration configuration)
    {
        RejectUnknown(configuration.GetSection(KblOptions.Section), [.. typeof(KblOptions).GetProperties().Select(p => p.Name), "Cluster", "Gateway", "Storage", "Placement", "Auth", "Telemetry", "Provisioning"]);
        RejectUnknown(configuration.GetSection("Kbl:Storage"), ["Mode", "Sqlite", "DynamoDb"]);
        var kbl = Bind<KblOptions>(configuration, KblOptions.Section, errorOnUnknown: false);
        var placement = Bind<KblPlacementOptions>(configuration, KblPlacementOptions.Section);
        var cluster = Bind<KblClusterOptions>(configuration, KblClusterOptions.Section);
        var gateway = Bind<KblGatewayOptions>(configuration, KblGatewayOptions.Section);
        var storage = Bind<KblStorageOptions>(configuration, KblStorageOptions.Section, errorOnUnknown: false);
        var sqlite = Bind<SqliteGrainStorageOptions>(configuration, "Kbl:Storage:Sqlite");
        var dynamo = Bind<DynamoDbGrainStorageOptions>(configuration, "Kbl:Storage:DynamoDb");
        var auth = Bind<KblAuthOptions>(configuration, KblAuthOptions.Section);
        var telemetry = Bind<KblTelemetryOptions>(configuration, KblTelemetryOptions.Section);
        var (provisioning, policy) = LoadProvisioning(configuration);

        // One reconciler per cluster: by default the local and dry-run providers run in the primary silo of a
        // localhost cluster only (elsewhere, set Kbl:Provisioning:InProcess=true on one silo).
        provisioning.InProcess ??= provisioning.Provider is "local" or "dry-run" && cluster.Mode == "localhost" && cluster.PrimarySiloPort == 0;
        if (string.IsNullOrEmpty(kbl.SiloName))
        {
            kbl.SiloName = Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod : $"silo-{cluster.SiloPort}";
        }

        var result = new KblOptionsValidator().Validate(null, kbl);
        if (result.Failed)
        {
            throw new KblConfigurationException(result.FailureMessage);
        }

        if (new KblPlacementOptionsValidator().Validate(null, placement) is { Failed: true } badPlacement)
        {
            throw new KblConfigurationException(badPlacement.FailureMessage);
        }

        CheckCluster(cluster);
        if (storage.Mode is not ("sqlite" or "dynamodb"))
        {
            throw new KblConfigurationException($"Kbl:Storage:Mode '{storage.Mode}' must be sqlite or dynamodb");
        }

        if (storage.Mode == "dynamodb" && new DynamoDbGrainStorageOptionsValidator().Validate(null, dynamo) is { Failed: true } badDynamo)
        {
            throw new KblConfigurationException(badDynamo.Failures.First());
        }

        if (telemetry.OtlpEndpoint.Length > 0 && !Uri.TryCreate(telemetry.OtlpEndpoint, UriKind.Absolute, out _))
        {
            throw new KblConfigurationException($"Kbl:Telemetry:OtlpEndpoint '{telemetry.OtlpEndpoint}' must be an absolute URL (http://collector:4317)");
        }

        if (auth.Token.Length == 0 && !auth.AllowAnonymous && (cluster.Mode != "localhost" || RunsInKubernetes(cluster)))
        {
            throw new KblConfigurationException("Kbl:Auth:Token is required outside the local default (set a token, or Kbl:Auth:AllowAnonymous=true to run open)");
        }

        if (auth.Token.Length is > 0 and < 16)
        {
            throw new KblConfigurationException("Kbl:Auth:Token must be at least 16 characters");
        }

        Port(cluster.SiloPort, "Kbl:Cluster:SiloPort");
        Port(cluster.GatewayPort, "Kbl:Cluster:GatewayPort");
        if (cluster.PrimarySiloPort != 0)
        {
            Port(cluster.PrimarySiloPort, "Kbl:Cluster:PrimarySiloPort");
        }

        Port(gateway.GrpcPort, "Kbl:Gateway:GrpcPort");
        if (gateway.MaxValueBytes is < 1 or > 64 * 1024 * 1024)
        {
            throw new KblConfigurationException($"Kbl:Gateway:MaxValueBytes {gateway.MaxValueBytes} must be between 1 and 67108864");
        }

        if (gateway.MaxScanPage is < 1 or > 100_000)
        {
            throw new KblConfigurationException($"Kbl:Gateway:MaxScanPage {gateway.MaxScanPage} must be between 1 and 100000");
        }

        if (string.IsNullOrWhiteSpace(sqlite.Path))
        {
            throw new KblConfigurationException("Kbl:Storage:Sqlite:Path must name a file");
        }

        var urls = new List<Uri>();
        foreach (var url in (configuration["urls"] ?? "http://127.0.0.1:5000").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri) ||
                uri.Scheme != Uri.UriSchemeHttp || uri.Port is < 1 or > 65535)
            {
                throw new KblConfigurationException($"--urls '{url}' must be http://HOST:PORT (TLS is terminated in front of Kbl)");
            }

            urls.Add(uri);
        }

        return new KblSettings(kbl, placement, cluster, gateway, storage, sqlite, dynamo, auth, telemetry, provisioning, policy, urls);
    }

    /// <summary><c>Kbl:Provisioning</c> holds two option classes: who acts on desired states, and the policy's thresholds.</summary>
    private static (ProvisioningOptions Provisioning, ProvisioningPolicyOptions Policy) LoadProvisioning(IConfiguration configuration)
    {
        try
        {
            var provisioning = ProvisioningSettings.Load(configuration, typeof(ProvisioningPolicyOptions).GetProperties().Select(p => p.Name));
            var policy = ProvisioningSettings.Bind<ProvisioningPolicyOptions>(configuration, ProvisioningOptions.Section, strict: false);
            return new ProvisioningPolicyOptionsValidator().Validate(null, policy) is { Failed: true } bad
                ? throw new KblConfigurationException(bad.FailureMessage)
                : (provisioning, policy);
        }
        catch (ProvisioningConfigurationException e)
        {
            throw new KblConfigurationException(e.Message);
        }
    }

    private static bool RunsInKubernetes(KblClusterOptions cluster) =>
        cluster.Kubernetes ?? Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 };

    private static void CheckCluster(KblClusterOptions cluster)
    {
        switch (cluster.Mode)
        {
            case "localhost":
                break;
            case "redis" when string.IsNullOrWhiteSpace(cluster.Redis):
                throw new KblConfigurationException("Kbl:Cluster:Redis must be a Redis connection string (host:6379) when Kbl:Cluster:Mode is redis");
            case "redis":
                break;
            default:
                throw new KblConfigurationException($"Kbl:Cluster:Mode '{cluster.Mode}' must be localhost or redis");
        }

        if (!System.Net.IPAddress.TryParse(cluster.AdvertisedAddress, out _))
        {
            throw new KblConfigurationException($"Kbl:Cluster:AdvertisedAddress '{cluster.AdvertisedAddress}' must be an IP address");
        }

        if (cluster.ProbeTimeout < TimeSpan.FromMilliseconds(100) || cluster.ProbeTimeout > TimeSpan.FromMinutes(1))
        {
            throw new KblConfigurationException($"Kbl:Cluster:ProbeTimeout {cluster.ProbeTimeout} must be between 00:00:00.100 and 00:01:00");
        }

        if (cluster.MissedProbesLimit is < 1 or > 10)
        {
            throw new KblConfigurationException($"Kbl:Cluster:MissedProbesLimit {cluster.MissedProbesLimit} must be between 1 and 10");
        }
    }

    private static void RejectUnknown(IConfigurationSection section, IReadOnlyCollection<string> known)
    {
        if (section.GetChildren().FirstOrDefault(c => !known.Contains(c.Key, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            throw new KblConfigurationException($"unknown setting {unknown.Path}; {section.Path} has {string.Join(", ", known)}");
        }
    }

    private static T Bind<T>(IConfiguration configuration, string section, bool errorOnUnknown = true)
        where T : new()
    {
        try
        {
            return ProvisioningSettings.Bind<T>(configuration, section, errorOnUnknown);
        }
        catch (ProvisioningConfigurationException e)
        {
            throw new KblConfigurationException(e.Message);
        }
    }

    private static void Port(int port, string key)
    {
        if (port is < 1 or > 65535)
        {
            throw new KblConfigurationException($"{key} {port} must be a port between 1 and 65535");
        }
    }
}
