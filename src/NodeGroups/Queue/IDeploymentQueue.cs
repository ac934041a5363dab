namespace Kbl.NodeGroups.Queue;

/// <summary>
/// Carries desired states from the provisioning grain to a Provisioner. At-least-once and unordered: the
/// Provisioner keeps the highest generation and deletes a message only once that generation (or a newer one) is applied.
/// </summary>
public interface IDeploymentQueue
{
    Task Send(DesiredState desired, CancellationToken cancellationToken);

    /// <summary>Waits up to <paramref name="wait"/> for messages; an empty list when none came.</summary>
    Task<IReadOnlyList<QueuedState>> Receive(TimeSpan wait, CancellationToken cancellationToken);

    Task Delete(QueuedState message, CancellationToken cancellationToken);
}

/// <summary>A received desired state and the handle that deletes it.</summary>
public sealed record QueuedState(DesiredState Desired, string Receipt);
