using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tree;

/// <summary>
/// What a dividing KBL hands a KBL it gives birth to: its range and genome, the division's generation (so a
/// repeated birth after a crash is recognised), the version clock it continues from, the silo the records come
/// from, its parent, and — for an interior KBL — the children it takes over (empty for a leaf).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ChildBirth")]
public sealed record ChildBirth(
    [property: Id(0)] KeyRange Range,
    [property: Id(1)] Genome Genome,
    [property: Id(3)] long Generation,
    [property: Id(4)] long Clock,
    [property: Id(5)] string ParentSilo,
    [property: Id(6)] string Parent,
    [property: Id(7)] IReadOnlyList<ChildRef> Children)
{
    /// <summary>The life of the colony the KBL is born into (0 for colonies of earlier versions): a delete tears down only its own.</summary>
    [Id(8)] public long Incarnation { get; init; }

    /// <summary>Where that life starts its shard epochs (KblState.EpochBase; 0 for colonies of earlier versions).</summary>
    [Id(9)] public long EpochBase { get; init; }
}

/// <summary>
/// A parent's order to divide one of its children: the division's generation (the parent's epoch), the paths
/// the new siblings take (allocated by the parent, never reused), and whether the division is by load.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.DivisionOrder")]
public sealed record DivisionOrder(
    [property: Id(0)] long Generation,
    [property: Id(1)] IReadOnlyList<string> Siblings,
    [property: Id(2)] bool ByLoad);

/// <summary>The child's reply: the stable name of the silo that now holds it, and whether it was already committed.</summary>
[GenerateSerializer, Immutable, Alias("kbl.BirthReply")]
public sealed record BirthReply([property: Id(0)] string Silo, [property: Id(1)] bool Committed);

/// <summary>
/// A child's reply to its merging parent: whether it retired (only a leaf can), the silo holding its records and
/// its version clock.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.RetireReply")]
public sealed record RetireReply([property: Id(0)] bool Retired, [property: Id(1)] string Silo, [property: Id(2)] long Clock)
{
    /// <summary>A retired child's copy as its replicas must hold it for the merge to take them over (null: no copy to take).</summary>
    [Id(3)] public Replication.FusedChild? Copy { get; init; }

    /// <summary>The silos holding <see cref="Copy"/> in sync (empty with one copy).</summary>
    [Id(4)] public IReadOnlyList<string> InSync { get; init; } = [];
}
