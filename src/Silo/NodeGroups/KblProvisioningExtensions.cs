using Kbl.Configuration;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Providers;
using Kbl.NodeGroups.Queue;
using Kbl.Provisioning;
using Kbl.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.NodeGroups;

/// <summary>
/// Provisioning in the silo: the policy's options for the provisioning grain, the publisher that puts desired
/// states on the deployment queue, and, when this silo reconciles (<see cref="KblSettings.Reconciles"/>), the
/// Provisioner's reconciler itself.
/// </summary>
public static class KblProvisioningExtensions
{
    public static void AddKblProvisioning(this WebApplicationBuilder builder, KblSettings settings, string[] args)
    {
        var provisioning = settings.Provisioning;
        var services = builder.Services;
        // Checked already, with every other setting, by KblSettings.Load: registered as they are.
        services.AddSingleton(Options.Create(settings.Policy));
        services.AddSingleton(provisioning);
        services.AddHostedService<ProvisioningStarter>();
        if (provisioning.Provider == ProviderKind.Off)
        {
            services.AddSingleton<IDesiredStatePublisher, NoPublisher>();
            return;
        }

        services.AddSingleton(sp => QueueAndProviderFactory.Queue(provisioning, QueuePath(settings), sp));
        services.AddSingleton<IDesiredStatePublisher>(sp => new QueuePublisher(provisioning.Provider.SettingName(), sp.GetRequiredService<IDeploymentQueue>()));
        if (!settings.Reconciles)
        {
            return;
        }

        if (provisioning.Provider == ProviderKind.Local)
        {
            services.AddSingleton(sp => Launcher(settings, args, sp.GetRequiredService<Kbl.Placement.ClusterLoad>()));
        }

        services.AddSingleton(sp => QueueAndProviderFactory.Provider(provisioning, sp));
        services.AddSingleton<IClusterPlan, GrainClusterPlan>();
        services.AddSingleton<Reconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<Reconciler>());
    }

    /// <summary>The spool directory of the local queue: shared by this silo, the silos it starts and a Provisioner on this machine.</summary>
    public static string QueuePath(KblSettings settings) =>
        Path.GetFullPath(settings.Provisioning.Local.QueuePath is { Length: > 0 } path ? path : Path.Combine(settings.Kbl.DataPath, "provisioning", "queue"));

    /// <summary>Sibling silos run this silo's own program with its arguments, joined to this silo's cluster and storage.</summary>
    private static LocalSiloLauncher Launcher(KblSettings settings, string[] args, Kbl.Placement.ClusterLoad cluster)
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("the silo's executable is unknown");
        var prefix = Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? [typeof(KblProvisioningExtensions).Assembly.Location] : Array.Empty<string>();
        var ports = settings.Cluster;
        var overrides = new Dictionary<string, string>
        {
            ["Kbl:Cluster:PrimarySiloPort"] = ports.PrimaryPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kbl:Storage:Sqlite:Path"] = Path.GetFullPath(settings.Sqlite.Path),
            ["Kbl:Provisioning:Local:QueuePath"] = QueuePath(settings),
        };
        if (settings.ColdTier.Mode == Kbl.Hosting.ColdTierMode.Local)
        {
            overrides["Kbl:ColdTier:Path"] = Path.GetFullPath(settings.ColdTier.Path); // one cold tier for the machine's silos, as one metadata file
        }

        return new LocalSiloLauncher(processPath, [.. prefix, .. args], overrides, settings.Kbl.SiloName,
            Path.GetFullPath(settings.Kbl.DataPath), settings.Placement.DrainTimeout + TimeSpan.FromSeconds(30),
            () => [.. cluster.ActiveSilos().Select(s => (s.Identity.Name, s.Identity.NodeGroup))]);
    }
}
