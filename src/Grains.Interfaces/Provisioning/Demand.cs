namespace Kbl.Provisioning;

/// <summary>
/// What one colony asks of the machines, reported by its root on every feedback tick: the whole colony's load
/// and size, the node group it lives in, and its top-level subtrees (the candidates for a group of their own).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ColonyDemand")]
public sealed record ColonyDemand(
    [property: Id(0)] string Colony,
    [property: Id(1)] string NodeGroup,
    [property: Id(2)] double OpsPerSecond,
    [property: Id(3)] long Bytes,
    [property: Id(4)] int Kbls,
    [property: Id(5)] int RedundancyFloor,
    [property: Id(6)] IReadOnlyList<SubtreeDemand> Subtrees)
{
    /// <summary>Which life of the colony reports (a colony deleted and created again is another); 0 for colonies of earlier versions.</summary>
    [Id(7)] public long Incarnation { get; init; }
}

/// <summary>One subtree of a colony: <see cref="Path"/> is the KBL path (<c>r.2</c>).</summary>
[GenerateSerializer, Immutable, Alias("kbl.SubtreeDemand")]
public sealed record SubtreeDemand(
    [property: Id(0)] string Path,
    [property: Id(1)] double OpsPerSecond,
    [property: Id(2)] long Bytes,
    [property: Id(3)] int Kbls);

/// <summary>The demand on one node group, summed over the colonies and subtrees it carries.</summary>
[GenerateSerializer, Immutable, Alias("kbl.GroupDemand")]
public sealed record GroupDemand(
    [property: Id(0)] string NodeGroup,
    [property: Id(1)] double OpsPerSecond,
    [property: Id(2)] long Bytes,
    [property: Id(3)] int Kbls,
    [property: Id(4)] int RedundancyFloor,
    [property: Id(5)] int NodesNeeded);
