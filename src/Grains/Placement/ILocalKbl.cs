using Kbl.Tree;

namespace Kbl.Placement;

/// <summary>What a KBL activation shows its silo: enough to count load and choose what to move.</summary>
public interface ILocalKbl
{
    string Id { get; }

    string Colony { get; }

    /// <summary>Levels below this KBL (0 for a leaf), from its children's last reports.</summary>
    int Height { get; }

    KblRole Role { get; }

    string NodeGroup { get; }

    long Keys { get; }

    long Bytes { get; }

    /// <summary>For a mirrored leaf, the copies its genome asks for that are not in sync (0 otherwise).</summary>
    int MissingCopies { get; }

    /// <summary>For a mirrored leaf, the silos holding a copy of its shard in sync (a move there is a hand-over); empty otherwise.</summary>
    IReadOnlyList<string> InSyncCopies { get; }

    /// <summary>
    /// A mirrored leaf: it reaches another node group by building copies there and handing its shard to one (on its
    /// own ticks), not by a move with its records.
    /// </summary>
    bool Mirrored { get; }

    /// <summary>
    /// Whether it may leave this silo without its shard having fewer copies in sync: true but for a mirrored leaf at
    /// home whose copies in sync on the other silos of its group are fewer than its genome asks (or than those silos).
    /// </summary>
    bool ReadyToLeave { get; }

    /// <summary>For a colony's root, how many of the colony's leaves hibernate (from its children's last reports); 0 for any other KBL.</summary>
    int HibernatedLeaves { get; }

    /// <summary>An awake leaf of a colony that hibernates idle leaves (its genome's <c>HibernateAfter</c> is set).</summary>
    bool MayHibernate { get; }
}
