using Orleans.Concurrency;
using Kbl.Colonies;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// The protocol between a KBL and its parent: feedback up, genome down, and the steps of a division (a child asks,
/// its parent orders it, the child hands pieces to new siblings: birth, import, commit) and of a merge (retire,
/// export, purge). Only KBLs call it. Every awaited call goes from a parent down to a child (or to a KBL being
/// born), never up: requests up are one-way, so no two KBLs can wait on each other.
/// </summary>
[Alias("kbl.IKblTreeGrain")]
public interface IKblTreeGrain : IGrainWithStringKey
{
    /// <summary>A child's periodic feedback. One-way, so a child never waits on a busy parent.</summary>
    [OneWay, Alias("ReportFeedback")]
    Task ReportFeedback(string childPath, Feedback feedback);

    /// <summary>
    /// A child over its thresholds (or an interior child over its maximum fan-out) asks to divide into about
    /// <paramref name="pieces"/> pieces (a leaf far over its thresholds asks for more than its genome's fan-out, so
    /// a burst of writes does not outrun the division). One-way; the
    /// parent answers by calling <see cref="Divide"/> in its own turn, when it can. A lost request is asked again.
    /// </summary>
    [OneWay, Alias("RequestDivision")]
    Task RequestDivision(string childPath, bool byLoad, int pieces);

    /// <summary>
    /// Divide, ordered by the parent: keep the first piece of this KBL's range (a leaf: of its records; an interior
    /// KBL: of its children), hand the others to new siblings named <see cref="DivisionOrder.Siblings"/>, and say
    /// which piece went where. Idempotent by generation: a repeated order gets the same answer.
    /// </summary>
    [Alias("Divide")]
    Task<IReadOnlyList<ChildRef>> Divide(DivisionOrder order);

    /// <summary>This KBL's parent changed from <paramref name="from"/> to <paramref name="to"/> (its old parent divided). Ignored unless the parent is <paramref name="from"/>.</summary>
    [Alias("SetParent")]
    Task SetParent(string from, string to);

    /// <summary>The colony's genome changed: take it (keeping this KBL's node group) and pass it on to the children.</summary>
    [Alias("UpdateGenome")]
    Task UpdateGenome(Genome genome);

    /// <summary>Division, step 1: become a pending KBL with this range, genome and clock, or these children (idempotent by generation).</summary>
    [Alias("Birth")]
    Task<BirthReply> Birth(ChildBirth birth);

    /// <summary>Division, step 2: records from the dividing KBL's silo, for a KBL born on another silo.</summary>
    [Alias("Import")]
    Task Import(IReadOnlyList<StoredRecord> records);

    /// <summary>
    /// Division, step 2b, for a mirrored leaf: the copies it inherited — its members' silos forked their copy of the
    /// dividing leaf (<see cref="Replication.IReplicaGrain.Fork"/>) at <paramref name="appliedSeq"/>, whose entry
    /// is of the epoch <paramref name="replicas"/> names; the new leaf starts as their primary, its log there, instead
    /// of rebuilding them. Ignored unless it is still pending at <paramref name="generation"/> with its clock at
    /// <paramref name="appliedSeq"/>.
    /// </summary>
    [Alias("InheritCopies")]
    Task InheritCopies(long generation, long appliedSeq, Replication.ShardConfig replicas);

    /// <summary>Division, step 3 (or a merge called off): a pending or retired KBL of this generation serves (a leaf) or routes (an interior KBL).</summary>
    [Alias("Commit")]
    Task Commit(long generation);

    /// <summary>Merge, step 1: a leaf stops serving and becomes retired, ready to hand its records to its parent.</summary>
    [Alias("Retire")]
    Task<RetireReply> Retire(long generation);

    /// <summary>Merge, step 2: a page of a retired KBL's records, for the parent that takes them over.</summary>
    [Alias("Export")]
    Task<IReadOnlyList<StoredRecord>> Export(byte[] from, bool exclusive, int limit);

    /// <summary>Merge, step 3: drops a retired KBL's records from its silo once they have been taken over.</summary>
    [Alias("Purge")]
    Task Purge(long generation);

    /// <summary>
    /// Merge, step 3 for a retired KBL on its parent's silo (whose records the parent took over in place): it forgets
    /// its replica configuration, then asks its members to drop their copies. Ignored unless it is retired at
    /// <paramref name="generation"/>.
    /// </summary>
    [Alias("Forget")]
    Task Forget(long generation);

    /// <summary>
    /// Colony delete, step 1: this KBL refuses every request from now on (the mark is persisted) and returns the paths
    /// below it — every path it ever gave a child, its children and those of an unfinished change. Makes no call to
    /// another KBL. Empty for a path never born, a KBL cleared already, or one of another life of the colony
    /// (<paramref name="incarnation"/>).
    /// </summary>
    [Alias("MarkDeleted")]
    Task<IReadOnlyList<string>> MarkDeleted(long incarnation);

    /// <summary>
    /// Colony delete, step 2: drops this marked KBL's records and clears its state. Makes no call to another KBL.
    /// Throws when its records are on a silo that is down (the delete then waits for it).
    /// </summary>
    [Alias("DropDeleted")]
    Task DropDeleted(long incarnation);
}
