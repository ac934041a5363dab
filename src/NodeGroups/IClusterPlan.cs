namespace Kbl.NodeGroups;

/// <summary>How a Provisioner talks back to the cluster: where it reads the current desired state and reports what it observed.</summary>
public interface IClusterPlan
{
    /// <summary>The cluster's current desired state (null while it has none), read once at start so a restart resumes at once.</summary>
    Task<DesiredState?> Current(CancellationToken cancellationToken);

    Task Report(ObservedState observed, CancellationToken cancellationToken);
}
