using Kbl.Configuration;
using Kbl.Hosting;
using Kbl.NodeGroups;
using Kbl.Placement;
using Kbl.Provisioning;
using Kbl.Silo.Gateway;

namespace Kbl.Silo.Hosting;

/// <summary>
/// Every setting the silo reads, bound and checked up front (each options class by the validator beside it) so a
/// mistake stops it with one line; these checked instances are what the silo registers.
/// </summary>
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
    ColdTierOptions ColdTier,
    IReadOnlyList<Uri> Urls)
{
    /// <summary>The sections under <c>Kbl</c> that other classes than <see cref="KblOptions"/> bind.</summary>
    private static readonly string[] Sections = ["Cluster", "Gateway", "Storage", "Placement", "Auth", "Telemetry", "Provisioning", "ColdTier"];

    /// <summary>Running under Kubernetes: <c>Kbl:Cluster:Kubernetes</c>, by default whether <c>POD_NAMESPACE</c> is set.</summary>
    public bool Kubernetes => RunsInKubernetes(Cluster);

    /// <summary>Whether this silo runs the reconciler (<see cref="ReconcilesIn"/>).</summary>
    public bool Reconciles => ReconcilesIn(Provisioning, Cluster);

    /// <exception cref="KblConfigurationException">a bad or unknown setting.</exception>
    public static KblSettings Load(IConfiguration configuration)
    {
        var kbl = SettingsBinder.Bind<KblOptions>(configuration, KblOptions.Section, alsoKnown: Sections);
        var storage = SettingsBinder.Bind<KblStorageOptions>(configuration, KblStorageOptions.Section, alsoKnown: ["Sqlite", "DynamoDb"]);
        var placement = SettingsBinder.Bind(configuration, KblPlacementOptions.Section, new KblPlacementOptionsValidator());
        var cluster = SettingsBinder.Bind(configuration, KblClusterOptions.Section, new KblClusterOptionsValidator());
        if (string.IsNullOrEmpty(kbl.SiloName))
        {
            kbl.SiloName = Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod : $"silo-{cluster.SiloPort}";
        }

        SettingsBinder.Validate(kbl, new KblOptionsValidator());
        var gateway = SettingsBinder.Bind(configuration, KblGatewayOptions.Section, new KblGatewayOptionsValidator());
        var sqlite = SettingsBinder.Bind<SqliteGrainStorageOptions>(configuration, "Kbl:Storage:Sqlite", new SqliteGrainStorageOptionsValidator());
        var dynamo = SettingsBinder.Bind<DynamoDbGrainStorageOptions>(configuration, "Kbl:Storage:DynamoDb");
        if (storage.Mode == StorageMode.DynamoDb)
        {
            SettingsBinder.Validate(dynamo, new DynamoDbGrainStorageOptionsValidator());
        }

        var localDefault = cluster.Mode == ClusterMode.Localhost && !RunsInKubernetes(cluster);
        var auth = SettingsBinder.Bind(configuration, KblAuthOptions.Section, new KblAuthOptionsValidator(localDefault));
        var telemetry = SettingsBinder.Bind(configuration, KblTelemetryOptions.Section, new KblTelemetryOptionsValidator());
        var coldTier = SettingsBinder.Bind(configuration, ColdTierOptions.Section, new ColdTierOptionsValidator());

        // Kbl:Provisioning holds two classes: the policy's thresholds, and who acts on desired states and how they travel.
        var policy = SettingsBinder.Bind(configuration, ProvisioningOptions.Section, new ProvisioningPolicyOptionsValidator(), SettingsBinder.Keys<ProvisioningOptions>());
        var provisioning = SettingsBinder.Bind<ProvisioningOptions>(configuration, ProvisioningOptions.Section, alsoKnown: SettingsBinder.Keys<ProvisioningPolicyOptions>());
        if (provisioning.Provider == ProviderKind.Local)
        {
            // The local provider's silos share this machine's cores: load alone never asks for a second one.
            policy.MaxNodesForLoad ??= 1;
        }

        var role = ReconcilesIn(provisioning, cluster) ? ProvisioningRole.SiloReconciler : ProvisioningRole.Publisher;
        SettingsBinder.Validate(provisioning, new ProvisioningOptionsValidator(role));

        return new KblSettings(kbl, placement, cluster, gateway, storage, sqlite, dynamo, auth, telemetry, provisioning, policy, coldTier, ParseUrls(configuration));
    }

    /// <summary>
    /// The one rule for whether a silo runs the reconciler (one per cluster): <c>Kbl:Provisioning:InProcess</c> when
    /// set; otherwise the local and dry-run providers run in the primary silo of a localhost cluster only (elsewhere,
    /// set InProcess=true on one silo), and eks runs in the Provisioner process.
    /// </summary>
    private static bool ReconcilesIn(ProvisioningOptions provisioning, KblClusterOptions cluster) =>
        provisioning.InProcess ?? (provisioning.Provider is ProviderKind.Local or ProviderKind.DryRun && cluster is { Mode: ClusterMode.Localhost, IsPrimary: true });

    private static bool RunsInKubernetes(KblClusterOptions cluster) =>
        cluster.Kubernetes ?? Environment.GetEnvironmentVariable("POD_NAMESPACE") is { Length: > 0 };

    /// <summary>The ASP.NET Core <c>urls</c> setting (<c>--urls</c>, <c>ASPNETCORE_URLS</c>): plain HTTP addresses.</summary>
    private static List<Uri> ParseUrls(IConfiguration configuration)
    {
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

        return urls;
    }
}
