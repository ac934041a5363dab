namespace Kbl.Provisioning;

/// <summary>
/// One node group as the colony wants it: its size bounds and target, the machines it is made of, and the KBL
/// subtrees it carries (<c>colony</c> for a whole colony, <c>colony/path</c> for a subtree given a group of its own).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.NodeGroupSpec")]
public sealed record NodeGroupSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] int Min,
    [property: Id(2)] int Max,
    [property: Id(3)] int Desired,
    [property: Id(4)] string InstanceType,
    [property: Id(5)] IReadOnlyList<string> Zones,
    [property: Id(6)] IReadOnlyDictionary<string, string> Labels,
    [property: Id(7)] IReadOnlyList<NodeTaint> Taints,
    [property: Id(8)] IReadOnlyList<string> Subtrees);

/// <summary>A Kubernetes taint on a group's nodes; <see cref="Effect"/> is EKS's spelling (<c>NO_SCHEDULE</c>, <c>NO_EXECUTE</c>, <c>PREFER_NO_SCHEDULE</c>).</summary>
[GenerateSerializer, Immutable, Alias("kbl.NodeTaint")]
public sealed record NodeTaint(
    [property: Id(0)] string Key,
    [property: Id(1)] string Value,
    [property: Id(2)] string Effect);
