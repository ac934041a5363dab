using Kbl.NodeGroups.Queue;
using Kbl.Provisioning;

namespace Kbl.Silo.NodeGroups;

/// <summary>Puts the provisioning grain's desired states on the deployment queue.</summary>
public sealed class QueuePublisher(string provider, IDeploymentQueue queue) : IDesiredStatePublisher
{
    public string Provider => provider;

    public Task Publish(DesiredState desired, CancellationToken cancellationToken) => queue.Send(desired, cancellationToken);
}
