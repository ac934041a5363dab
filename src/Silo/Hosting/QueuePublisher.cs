using Kbl.Provisioning;
using Kbl.Provisioning.Queue;

namespace Kbl.Silo.Hosting;

/// <summary>Puts the provisioning grain's desired states on the deployment queue.</summary>
public sealed class QueuePublisher(string provider, IDeploymentQueue queue) : IDesiredStatePublisher
{
    public string Provider => provider;

    public Task Publish(DesiredState desired, CancellationToken cancellationToken) => queue.Send(desired, cancellationToken);
}
