namespace Kbl.NodeGroups.Kubernetes;

/// <summary>
/// Keeps one silo StatefulSet per silo group (<c>nodeSelector: eks.amazonaws.com/nodegroup: NAME</c>, the group
/// as a literal <c>Kbl__NodeGroup</c>, and for a zonal group its zone as a literal <c>Kbl__Zone</c>), at one silo per
/// node; and finds and cordons the node of a silo for the targeted scale-in.
/// </summary>
public interface ISiloStatefulSets
{
    /// <summary>Creates the group's StatefulSet if it is missing (from the template StatefulSet) and sets its replicas; returns its ready replicas.</summary>
    Task<int> Scale(SiloGroup group, int replicas, CancellationToken cancellationToken);

    /// <summary>Deletes the group's StatefulSet if it exists (after its silos have drained: scale to 0 first).</summary>
    Task Remove(SiloGroup group, CancellationToken cancellationToken);

    /// <summary>
    /// The node (and EC2 instance) the group's silo with <paramref name="ordinal"/> runs on: the one a StatefulSet scaled
    /// below <c>ordinal + 1</c> stops. Null when that pod does not exist or is not on a node.
    /// </summary>
    Task<SiloNode?> NodeOf(SiloGroup group, int ordinal, CancellationToken cancellationToken);

    /// <summary>Marks <paramref name="node"/> unschedulable (<c>kubectl cordon</c>), so nothing new lands on a node about to go.</summary>
    Task Cordon(string node, CancellationToken cancellationToken);

    /// <summary>Whether the group's silo with <paramref name="ordinal"/> is gone (its pod deleted: it drained and exited).</summary>
    Task<bool> IsGone(SiloGroup group, int ordinal, CancellationToken cancellationToken);
}
