using Kbl.NodeGroups.Kubernetes;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// How a node group of the plan becomes one EKS managed node group per zone (<see cref="EksOptions.ZonalNodeGroups"/>),
/// and how what they report becomes the plan group's observed state again.
/// </summary>
/// <remarks>
/// <para>Group <c>G</c> over zones <c>z1…zk</c> (its own, or every zone the usable subnets cover) becomes the EKS node groups
/// <c>G-z1…G-zk</c> (<see cref="SiloGroup.EksNodeGroup"/>), each in the subnets of its zone only, labelled
/// <c>kbl.io/node-group=G</c> and <c>kbl.io/zone=zi</c>, each with its own silo StatefulSet. Sizes are shared out in zone
/// order: <c>desired</c> and <c>min</c> as evenly as they go, the first zones taking the remainder (5 over 3 zones is
/// 2, 2, 1); <c>max</c> likewise but at least 1 per zone (EKS wants a max of 1 or more) and never below the zone's desired.
/// A zone's group may sit at 0 nodes; it is kept, so a silo's volume in that zone finds a node again when the group grows.</para>
/// <para>Observed back: the sum of the parts' desired and ready sizes, the first status that is not ACTIVE (in zone order),
/// and each part's issues prefixed with its EKS name.</para>
/// </remarks>
public static class ZonalSplit
{
    /// <summary>The per-zone specs of <paramref name="spec"/> over <paramref name="zones"/>, with their silo groups.</summary>
    public static IReadOnlyList<(NodeGroupSpec Spec, SiloGroup Silos)> Split(NodeGroupSpec spec, IReadOnlyList<string> zones)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(zones);
        if (zones.Count == 0)
        {
            throw new ArgumentException($"node group {spec.Name} has no zone to split over", nameof(zones));
        }

        var parts = new List<(NodeGroupSpec, SiloGroup)>(zones.Count);
        for (var i = 0; i < zones.Count; i++)
        {
            var silos = new SiloGroup(spec.Name, zones[i]);
            var desired = Share(spec.Desired, zones.Count, i);
            var labels = new Dictionary<string, string>(spec.Labels, StringComparer.Ordinal)
            {
                [SiloGroup.NodeGroupLabel] = spec.Name,
                [SiloGroup.ZoneLabel] = zones[i],
            };
            parts.Add((spec with
            {
                Name = silos.EksNodeGroup,
                Min = Math.Min(Share(spec.Min, zones.Count, i), desired),
                Max = Math.Max(Math.Max(1, Share(spec.Max, zones.Count, i)), desired),
                Desired = desired,
                Zones = [zones[i]],
                Labels = labels,
            }, silos));
        }

        return parts;
    }

    /// <summary>One plan group's observed state from its parts' (a single part across zones stands for itself).</summary>
    public static ObservedGroup Merge(string name, IReadOnlyList<ObservedGroup> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts is [var only] && only.Name == name)
        {
            return only;
        }

        var status = parts.Select(p => p.Status).FirstOrDefault(s => s != "ACTIVE") ?? (parts.Count == 0 ? "MISSING" : "ACTIVE");
        return new ObservedGroup(
            name,
            status,
            parts.Sum(p => p.Desired),
            parts.Sum(p => p.Ready),
            [.. parts.SelectMany(p => p.Issues.Select(issue => $"{p.Name}: {issue}"))]);
    }

    private static int Share(int total, int parts, int index) => (total / parts) + (index < total % parts ? 1 : 0);
}
