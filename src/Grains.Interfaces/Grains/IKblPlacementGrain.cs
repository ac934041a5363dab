using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// Where a KBL lives: moves between node groups (operators, the provisioning grain) and between silos (rebalancing,
/// drains), and whether its records are on silo disks at all (hibernation).
/// </summary>
[Alias("kbl.IKblPlacementGrain")]
public interface IKblPlacementGrain : IGrainWithStringKey
{
    /// <summary>
    /// Reassigns this KBL and its whole subtree to <paramref name="nodeGroup"/>: every activation moves to a silo
    /// of that group and every record follows it.
    /// </summary>
    [Alias("Move")]
    Task<MoveResult> Move(string nodeGroup);

    /// <summary>What <see cref="Relocate"/> answers for a KBL that has just moved to <c>from</c> and is not there yet: ask again shortly.</summary>
    public const long OnItsWay = -2;

    /// <summary>
    /// Moves this KBL (not its subtree) and its records from silo <paramref name="from"/> to silo
    /// <paramref name="to"/>, then deactivates. A mirrored leaf whose copy on <paramref name="to"/> is in sync hands
    /// its shard over instead: that copy becomes the primary's, and no record is copied. Returns the records moved
    /// (0 for a hand-over), <see cref="OnItsWay"/> when it has just moved to <paramref name="from"/> and its
    /// activation is not there yet, or -1 when the KBL is not at home on <paramref name="from"/> or cannot move now.
    /// A target that is stopping refuses with <see cref="SiloDrainingException"/>.
    /// </summary>
    [Alias("Relocate")]
    Task<long> Relocate(string from, string to);

    /// <summary>
    /// <see cref="Relocate"/> to whichever of <paramref name="candidates"/> suits this KBL best (a drain's choice): a
    /// mirrored leaf goes to the least loaded candidate holding an in-sync copy of its shard (a hand-over, nothing
    /// copied), anything else to the least loaded candidate. Same answers as <see cref="Relocate"/>; the
    /// <see cref="SiloDrainingException"/> names the candidate that refused.
    /// </summary>
    [Alias("Evacuate")]
    Task<long> Evacuate(string from, string[] candidates);

    /// <summary>
    /// Every copy of this leaf's shard with its digest, read in one turn of the primary (no write between them,
    /// under its read fence): the copies in sync hold byte-identical records.
    /// </summary>
    [Alias("Copies")]
    Task<Replication.KblCopies> Copies();

    /// <summary>
    /// Has silo <paramref name="silo"/> drop the copy of this KBL's shard it holds, sealed for
    /// <paramref name="sealedEpoch"/>, when that copy is a stray: this KBL holds no shard (it is interior or merged
    /// away), or it is a leaf whose configuration does not name that silo. True when the copy was dropped. A silo asks
    /// this of every replica copy on its disk when it starts (a silo that was down when its copy was removed, or
    /// that missed the drop, would otherwise keep it until the KBL's id is used again).
    /// </summary>
    [Alias("DropStrayCopy")]
    Task<bool> DropStrayCopy(string silo, long sealedEpoch);

    /// <summary>
    /// Hibernates every leaf of this subtree now, whatever its idle time: each seals its shard into the cold tier and
    /// leaves every silo disk (see the genome's <c>HibernateAfter</c>).
    /// </summary>
    [Alias("Hibernate")]
    Task<WindowResult> Hibernate();

    /// <summary>Wakes every hibernated leaf of this subtree now (a few at a time), as their first requests would.</summary>
    [Alias("Wake")]
    Task<WindowResult> Wake();
}
