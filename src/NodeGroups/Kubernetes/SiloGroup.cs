namespace Kbl.NodeGroups.Kubernetes;

/// <summary>
/// One silo StatefulSet and the EKS managed node group under it: a Kbl node group (<see cref="NodeGroup"/>, what the
/// silos say in <c>Kbl__NodeGroup</c>) and, for a zonal group, the one zone it lives in.
/// </summary>
/// <remarks>
/// The mapping, one way only: a zonal group's EKS node group is <c>{NodeGroup}-{Zone}</c> (<c>hot-us-east-1a</c>), its
/// StatefulSet <c>kbl-{NodeGroup}-{Zone}</c>; a group across zones keeps the plan's name for both (<c>hot</c>,
/// <c>kbl-hot</c>). The way back, from an EKS node group, reads the labels Kbl puts on the groups it creates
/// (<c>kbl.io/node-group</c>, <c>kbl.io/zone</c>), never the name.
/// </remarks>
public sealed record SiloGroup(string NodeGroup, string? Zone)
{
    /// <summary>The node label (on EKS node groups Kbl creates) naming the Kbl node group.</summary>
    public const string NodeGroupLabel = "kbl.io/node-group";

    /// <summary>The node label (on zonal EKS node groups Kbl creates) naming the zone.</summary>
    public const string ZoneLabel = "kbl.io/zone";

    /// <summary>The EKS managed node group: <c>{NodeGroup}-{Zone}</c>, or <see cref="NodeGroup"/> for a group across zones.</summary>
    public string EksNodeGroup => Zone is null ? NodeGroup : $"{NodeGroup}-{Zone}";

    /// <summary>The silo StatefulSet (<c>kbl-hot-us-east-1a</c>); throws when the name cannot make one.</summary>
    public string StatefulSetName => SiloStatefulSets.StatefulSetName(EksNodeGroup);

    /// <summary>A group across zones, named as its EKS node group.</summary>
    public static SiloGroup Across(string nodeGroup) => new(nodeGroup, null);

    /// <summary>The silo group of an EKS node group, from its labels (<see cref="NodeGroupLabel"/>, <see cref="ZoneLabel"/>); its name when it has none.</summary>
    public static SiloGroup Of(string eksNodeGroup, IReadOnlyDictionary<string, string>? labels)
    {
        ArgumentException.ThrowIfNullOrEmpty(eksNodeGroup);
        if (labels is not null && labels.TryGetValue(NodeGroupLabel, out var group) && labels.TryGetValue(ZoneLabel, out var zone) &&
            new SiloGroup(group, zone).EksNodeGroup == eksNodeGroup)
        {
            return new SiloGroup(group, zone);
        }

        return Across(eksNodeGroup);
    }

    public override string ToString() => EksNodeGroup;
}

/// <summary>Where one silo runs: its pod, its node, and that node's EC2 instance and zone (from the node's <c>spec.providerID</c>).</summary>
public sealed record SiloNode(string Pod, string Node, string? InstanceId, string? Zone);
