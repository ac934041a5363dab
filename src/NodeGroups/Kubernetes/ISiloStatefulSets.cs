namespace Kbl.NodeGroups.Kubernetes;

/// <summary>
/// Keeps one silo StatefulSet per node group (<c>nodeSelector: eks.amazonaws.com/nodegroup: NAME</c>, the group
/// as a literal <c>Kbl__NodeGroup</c>), at one silo per node.
/// </summary>
public interface ISiloStatefulSets
{
    /// <summary>Creates the group's StatefulSet if it is missing (from the template StatefulSet) and sets its replicas; returns its ready replicas.</summary>
    Task<int> Scale(string nodeGroup, int replicas, CancellationToken cancellationToken);

    /// <summary>Deletes the group's StatefulSet if it exists (after its silos have drained: scale to 0 first).</summary>
    Task Remove(string nodeGroup, CancellationToken cancellationToken);
}
