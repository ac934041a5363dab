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

    /// <summary>
    /// Where the colony's awake leaves are: its load per node group (a subtree moved to another group counts there).
    /// Empty from roots of earlier versions: then everything counts in <see cref="NodeGroup"/>.
    /// </summary>
    [Id(8)] public IReadOnlyList<GroupShare> Groups { get; init; } = [];
}

/// <summary>The part of a subtree's load on one node group: the operations, bytes and number of its awake leaves there.</summary>
[GenerateSerializer, Immutable, Alias("kbl.GroupShare")]
public sealed record GroupShare(
    [property: Id(0)] string NodeGroup,
    [property: Id(1)] double OpsPerSecond,
    [property: Id(2)] long Bytes,
    [property: Id(3)] int Kbls)
{
    /// <summary>The shares of two subtrees together, one per group.</summary>
    public static IReadOnlyList<GroupShare> Merge(IReadOnlyList<GroupShare>? a, IReadOnlyList<GroupShare>? b) =>
        a is not { Count: > 0 } ? b ?? [] : b is not { Count: > 0 } ? a : [.. a.Concat(b)
            .GroupBy(s => s.NodeGroup, StringComparer.Ordinal)
            .Select(g => new GroupShare(g.Key, g.Sum(s => s.OpsPerSecond), g.Sum(s => s.Bytes), g.Sum(s => s.Kbls)))];
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
