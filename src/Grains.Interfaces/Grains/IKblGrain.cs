using Kbl.Colonies;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// A KBL as the gateway sees it: one node of a colony's tree, keyed <c>{colony}/{path}</c> (<c>orders/r</c>,
/// <c>orders/r.0.3</c>). A leaf owns a shard; an interior KBL routes and aggregates. The same grain class plays
/// both roles and also implements the protocol between KBLs (<see cref="IKblTreeGrain"/>) and placement
/// (<see cref="IKblPlacementGrain"/>), which the gateway does not call.
/// </summary>
[Alias("kbl.IKblGrain")]
public interface IKblGrain : IGrainWithStringKey
{
    // ---- colony (root only) ----

    /// <summary>Creates the colony (root only) or changes its genome; the change flows down to every KBL.</summary>
    [Alias("Configure")]
    Task<Genome> Configure(Genome genome);

    /// <summary>The colony's genome, or null when the colony does not exist.</summary>
    [Alias("GetGenome")]
    Task<Genome?> GetGenome();

    /// <summary>
    /// Deletes the colony (root only): from this call on it refuses every request, then its whole tree is torn down
    /// from the bottom — records, KBL states, demand — and its name is freed. Idempotent and resumable: a repeated
    /// call (or the root's next activation or tick) continues an unfinished delete.
    /// </summary>
    [Alias("DeleteColony")]
    Task<ColonyDeletion> DeleteColony();

    /// <summary>Carries on the colony's unfinished delete (root only); does nothing when none is under way.</summary>
    [Alias("ResumeDelete")]
    Task ResumeDelete();

    // ---- records (leaves serve, others answer Moved) ----

    [Alias("Get")]
    Task<ReadResult> Get(byte[] key);

    /// <summary>
    /// Reads each key, in one turn: one result per key, in the same order. A key that is not this leaf's is answered
    /// <see cref="KblStatus.Moved"/> and the others are read. The batch API's read: one call per leaf per batch.
    /// </summary>
    [Alias("GetMany")]
    Task<IReadOnlyList<ReadResult>> GetMany(IReadOnlyList<byte[]> keys);

    [Alias("Put")]
    Task<WriteResult> Put(byte[] key, byte[] value, Precondition condition);

    [Alias("Delete")]
    Task<WriteResult> Delete(byte[] key, Precondition condition);

    /// <summary>
    /// Writes in order, each under its own condition (a later write sees the earlier ones), in one durable store
    /// write and — mirrored — one replication round; one result per write, in the same order. A write whose key
    /// is not this leaf's is answered <see cref="KblStatus.Moved"/> and the others go on. This is the gateway's group
    /// commit: writes that queue for one leaf while a call to it is under way travel together.
    /// </summary>
    [Alias("WriteMany")]
    Task<IReadOnlyList<WriteResult>> WriteMany(IReadOnlyList<RecordWrite> writes);

    /// <summary>
    /// A page of the records from <paramref name="from"/> (after it when <paramref name="exclusive"/>) to
    /// <paramref name="to"/>, within <paramref name="bounds"/> (records and bytes).
    /// </summary>
    [Alias("ScanPage")]
    Task<ScanPage> Scan(byte[] from, bool exclusive, byte[]? to, PageBounds bounds, CancellationToken cancellationToken = default);

    // ---- subtree operations (any role: self-similar recursion) ----

    /// <summary>
    /// The partial aggregate of this subtree. An interior KBL answers for its whole subtree; a leaf answers one page
    /// per call, a turn each (<see cref="AggregatePartial.Resume"/>: ask again from there), so writes to it go on
    /// between pages. A cancelled call stops at the next page.
    /// </summary>
    [Alias("AggregatePaged")]
    Task<AggregatePartial> Aggregate(AggregateQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// This KBL and <paramref name="levels"/> levels below it; deeper subtrees are collapsed into their roll-up,
    /// except along the hot path (the busiest child at each level, down to a leaf) when <paramref name="hotPath"/>.
    /// </summary>
    [Alias("GetTree")]
    Task<KblView> GetTree(int levels, bool hotPath);
}
