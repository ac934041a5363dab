using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tree;

/// <summary>
/// A KBL's durable metadata, in grain storage: its role, range, children, epoch, genome and home. Never its
/// records: those live in the silo's <see cref="RecordStore"/>.
/// </summary>
[GenerateSerializer, Alias("kbl.KblState")]
public sealed class KblState
{
    [Id(0)] public KblRole Role { get; set; }

    [Id(1)] public KeyRange Range { get; set; } = KeyRange.All;

    [Id(2)] public List<ChildRef> Children { get; set; } = [];

    /// <summary>Taken anew by every activation and every change of shape; fences older activations.</summary>
    [Id(3)] public long Epoch { get; set; }

    [Id(4)] public Genome Genome { get; set; } = Genome.Default;

    /// <summary>The stable name of the silo whose disk holds this KBL's records.</summary>
    [Id(5)] public string? Home { get; set; }

    /// <summary>Written by earlier versions (depth at birth); no longer kept: the tree grows at the top, so depths change.</summary>
    [Id(6)] public int Depth { get; set; }

    /// <summary>The generation (parent epoch) of the split that gave birth to this KBL, or of the merge that retired it.</summary>
    [Id(7)] public long Generation { get; set; }

    /// <summary>A split or merge that started and has not finished; a new activation completes it.</summary>
    [Id(8)] public Transition? Transition { get; set; }

    [Id(9)] public DateTimeOffset ShapeChangedAt { get; set; }

    /// <summary>The version clock a newly born child continues from (it then lives in the record store).</summary>
    [Id(10)] public long BirthClock { get; set; }

    /// <summary>The parent's path; null for the root, and for KBLs of earlier versions, whose parent is their path's prefix.</summary>
    [Id(11)] public string? Parent { get; set; }

    /// <summary>The next index this KBL gives a child's path (<c>{path}.{index}</c>); paths are never reused.</summary>
    [Id(12)] public int NextChild { get; set; }

    /// <summary>
    /// This KBL's last division: the pieces its range went to (itself first). Answers requests for keys it handed
    /// over until the parent routes them, and repeats of the parent's order.
    /// </summary>
    [Id(13)] public Division? LastDivision { get; set; }

    /// <summary>
    /// Which life of its colony this KBL belongs to: drawn when the colony is created, inherited at birth (0 for
    /// colonies of earlier versions). A delete tears down only KBLs of the life it deletes, so a late message of an
    /// old delete cannot touch a colony created again under the same name.
    /// </summary>
    [Id(14)] public long Incarnation { get; set; }

    /// <summary>A retired KBL whose records its parent took over and then dropped here: it is never revived.</summary>
    [Id(15)] public bool Purged { get; set; }

    /// <summary>
    /// A mirrored leaf's replica configuration (the consensus register of its shard): the primary's epoch, silo and
    /// disk, the members and which are in sync. Changed only by conditional write of this state; null until the
    /// leaf first serves as a primary.
    /// </summary>
    [Id(16)] public Replication.ShardConfig? Replicas { get; set; }

    /// <summary>
    /// Set while this leaf hibernates: its records are the snapshot in the cold tier this names, and on no silo disk
    /// (<see cref="Home"/> is null). The next request wakes it on a silo of its node group.
    /// </summary>
    [Id(17)] public Hibernation? Hibernation { get; set; }

    /// <summary>
    /// Where its colony's life starts its shard epochs: the life's creation time in microseconds, inherited at birth
    /// (0 for colonies of earlier versions). A silo down while the colony was deleted keeps that life's copies, sealed
    /// for its epochs; a later life, taking epochs above its own start, is never fenced by them, and no copy of its
    /// can agree with one of an earlier life on an epoch.
    /// </summary>
    [Id(18)] public long EpochBase { get; set; }

    /// <summary>
    /// Whether this KBL's copies are mirrored, or were and its configuration still names them (its genome went to one
    /// copy, and it has not forgotten them yet, KblGrain.ForgetMirror): either way a copy elsewhere may hold writes
    /// its home's lacks, and it is placed, handed over, promoted and taken over as a mirrored KBL is.
    /// </summary>
    public bool HasMirror => Genome.Redundancy.Mirrored || Replicas?.NamesCopies == true;

    /// <summary>The index for this KBL's next child path: <see cref="NextChild"/>, or past every child of <paramref name="path"/> for KBLs of earlier versions.</summary>
    public int NextChildIndex(string path) => NextChild > 0 ? NextChild : Children
        .Select(c => c.Path.StartsWith(path + ".", StringComparison.Ordinal) && int.TryParse(c.Path.AsSpan(path.Length + 1), out var i) ? i : -1)
        .DefaultIfEmpty(-1)
        .Max() + 1;
}

/// <summary>
/// A hibernated leaf's shard: the cold-tier object holding its records (null when it had none), how many records and
/// bytes that is, the version clock to go on from, and since when it sleeps.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Hibernation")]
public sealed record Hibernation(
    [property: Id(0)] ColdTier.ColdObject? Snapshot,
    [property: Id(1)] long Records,
    [property: Id(2)] long Bytes,
    [property: Id(3)] long Clock,
    [property: Id(4)] DateTimeOffset Since);

[GenerateSerializer, Immutable, Alias("kbl.Division")]
public sealed record Division([property: Id(0)] long Generation, [property: Id(1)] IReadOnlyList<ChildRef> Pieces);

[GenerateSerializer, Alias("kbl.TransitionKind")]
public enum TransitionKind
{
    /// <summary>The root, a leaf, divides into children under itself (the tree grows a level at the top).</summary>
    Split = 0,

    /// <summary>An interior KBL takes its children's records back and becomes a leaf.</summary>
    Merge = 1,

    /// <summary>A parent orders its child <see cref="Transition.Child"/> to divide, naming its new siblings.</summary>
    Divide = 2,

    /// <summary>A KBL hands pieces of its range (records or children) to new siblings, on its parent's order.</summary>
    Handoff = 3,

    /// <summary>The root, an interior KBL over its maximum fan-out, hands its children to new children of its own.</summary>
    PushDown = 4,

    /// <summary>
    /// The colony is being deleted: the KBL refuses every request and is torn down with its subtree. Generation is
    /// the colony's incarnation; <see cref="Transition.Siblings"/> names the KBLs an earlier change of this KBL was
    /// making or had made (its pieces, its new siblings), torn down with it.
    /// </summary>
    Delete = 5,
}

/// <summary>
/// A change of shape persisted before its first step, so a crash at any step is finished by the next activation.
/// <see cref="Children"/>: the new children (Split, PushDown), the children to merge (Merge), the pieces (Handoff,
/// this KBL first); <see cref="Groups"/>: for Handoff and PushDown of an interior KBL, the children each piece
/// takes over; <see cref="Child"/> and <see cref="Siblings"/>: for Divide, the child and its new siblings' paths
/// (for Delete, the other KBLs torn down with this one).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Transition")]
public sealed record Transition(
    [property: Id(0)] TransitionKind Kind,
    [property: Id(1)] long Generation,
    [property: Id(2)] IReadOnlyList<ChildRef> Children)
{
    [Id(3)] public bool ByLoad { get; init; }

    [Id(4)] public string? Child { get; init; }

    [Id(5)] public IReadOnlyList<string> Siblings { get; init; } = [];

    [Id(6)] public IReadOnlyList<IReadOnlyList<ChildRef>> Groups { get; init; } = [];
}
