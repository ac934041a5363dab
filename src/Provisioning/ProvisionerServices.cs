using Kbl.Provisioning.Kubernetes;
using Kbl.Provisioning.Providers;
using Kbl.Provisioning.Queue;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kbl.Provisioning;

/// <summary>Builds the queue and provider a configuration names; shared by the silo (in-process) and the Provisioner.</summary>
public static class ProvisionerServices
{
    public static IDeploymentQueue Queue(ProvisioningOptions options, string localPath, IServiceProvider services) => options.Queue switch
    {
        "local" => new LocalSpoolQueue(localPath),
        "sqs" => new SqsDeploymentQueue(Microsoft.Extensions.Options.Options.Create(options), services.GetRequiredService<ILogger<SqsDeploymentQueue>>()),
        _ => throw new NotSupportedException($"queue {options.Queue}"),
    };

    public static INodeGroupProvider Provider(ProvisioningOptions options, IServiceProvider services) => options.Provider switch
    {
        "local" => new LocalSiloProvider(
            services.GetService<LocalSiloLauncher>() ?? throw new InvalidOperationException("the local provider runs inside a silo (it starts siblings of it)"),
            options.Local,
            services.GetRequiredService<ILogger<LocalSiloProvider>>()),
        "eks" => EksNodeGroupProvider.Create(options.Eks, StatefulSets(options, services), services.GetService<ILoggerFactory>(), services.GetService<ReconcilerProgress>()),
        "dry-run" => new DryRunProvider(options.Eks, Console.Out, options.Kubernetes.Enabled == false ? null : options.Kubernetes),
        _ => throw new NotSupportedException($"provider {options.Provider}"),
    };

    /// <summary>The silo StatefulSets beside the node groups: only when Kubernetes is in use (by default, inside a pod).</summary>
    private static ISiloStatefulSets? StatefulSets(ProvisioningOptions options, IServiceProvider services) =>
        options.Kubernetes.Enabled ?? Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST") is { Length: > 0 }
            ? new SiloStatefulSets(SiloStatefulSets.InClusterClient(), Microsoft.Extensions.Options.Options.Create(options), services.GetRequiredService<ILogger<SiloStatefulSets>>())
            : null;
}
