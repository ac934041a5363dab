using Kbl.NodeGroups.Kubernetes;
using Kbl.NodeGroups.Providers;
using Kbl.NodeGroups.Queue;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups;

/// <summary>Builds the deployment queue and the node group provider that <c>Kbl:Provisioning</c> names; shared by the silo (in-process) and the Provisioner.</summary>
public static class QueueAndProviderFactory
{
    public static IDeploymentQueue Queue(ProvisioningOptions options, string localPath, IServiceProvider services) => options.Queue switch
    {
        QueueKind.Local => new LocalSpoolQueue(localPath),
        QueueKind.Sqs => new SqsDeploymentQueue(Microsoft.Extensions.Options.Options.Create(options), services.GetRequiredService<ILogger<SqsDeploymentQueue>>()),
        _ => throw new NotSupportedException($"queue {options.Queue}"),
    };

    public static INodeGroupProvider Provider(ProvisioningOptions options, IServiceProvider services) => options.Provider switch
    {
        ProviderKind.Local => new LocalSiloProvider(
            services.GetService<LocalSiloLauncher>() ?? throw new InvalidOperationException("the local provider runs inside a silo (it starts siblings of it)"),
            options.Local,
            services.GetRequiredService<ILogger<LocalSiloProvider>>()),
        ProviderKind.Eks => EksNodeGroupProvider.Create(options.Eks, StatefulSets(options, services), services.GetService<ILoggerFactory>(), services.GetService<ReconcilerProgress>()),
        ProviderKind.DryRun => new DryRunProvider(options.Eks, Console.Out, options.Kubernetes.Enabled == false ? null : options.Kubernetes),
        _ => throw new NotSupportedException($"provider {options.Provider}"),
    };

    /// <summary>The silo StatefulSets beside the node groups: only when Kubernetes is in use (by default, inside a pod).</summary>
    private static ISiloStatefulSets? StatefulSets(ProvisioningOptions options, IServiceProvider services) =>
        options.Kubernetes.Enabled ?? Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is { Length: > 0 }
            ? new SiloStatefulSets(SiloStatefulSets.InClusterClient(), Microsoft.Extensions.Options.Options.Create(options), services.GetRequiredService<ILogger<SiloStatefulSets>>())
            : null;
}
