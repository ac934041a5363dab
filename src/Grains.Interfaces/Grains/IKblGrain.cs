using Orleans.Concurrency;
using Kbl.Colonies;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// A KBL: one node of a colony's tree, keyed <c>{colony}/{path}</c> (<c>orders/r</c>, <c>orders/r.0.3</c>).
/// A leaf owns a shard; an interior KBL routes and aggregates. The same grain class plays both roles.
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

    // ---- records (leaves serve, others answer Moved) ----

    [Alias("Get")]
    Task<ReadResult> Get(byte[] key);

    [Alias("Put")]
    Task<WriteResult> Put(byte[] key, byte[] value, Precondition condition);

    [Alias("Delete")]
    Task<WriteResult> Delete(byte[] key, Precondition condition);

    /// <summary>Up to <paramref name="limit"/> records from <paramref name="from"/> (after it when <paramref name="exclusive"/>) to <paramref name="to"/>.</summary>
    [Alias("Scan")]
    Task<ScanPage> Scan(byte[] from, bool exclusive, byte[]? to, int limit);

    // ---- subtree operations (any role: self-similar recursion) ----

    [Alias("Aggregate")]
    Task<AggregatePartial> Aggregate(AggregateQuery query);

    [Alias("GetTree")]
    Task<KblView> GetTree();

    // ---- between parent and child ----

    /// <summary>A child's periodic feedback. One-way, so a child never waits on a busy parent.</summary>
    [OneWay, Alias("ReportFeedback")]
    Task ReportFeedback(string childPath, Feedback feedback);

    [Alias("UpdateGenome")]
    Task UpdateGenome(Genome genome);

    [Alias("Birth")]
    Task<BirthReply> Birth(ChildBirth birth);

    [Alias("Import")]
    Task Import(IReadOnlyList<StoredRecord> records);

    [Alias("Commit")]
    Task Commit(long generation);

    [Alias("Retire")]
    Task<FuseReply> Retire(long generation);

    /// <summary>A page of a retired or moving KBL's records, for the KBL that takes them over.</summary>
    [Alias("Export")]
    Task<IReadOnlyList<StoredRecord>> Export(byte[] from, bool exclusive, int limit);

    // ---- placement ----

    /// <summary>
    /// Reassigns this KBL and its whole subtree to <paramref name="nodeGroup"/>: every activation moves to a silo
    /// of that group and every record follows it.
    /// </summary>
    [Alias("Move")]
    Task<MoveResult> Move(string nodeGroup);

    /// <summary>
    /// Moves this KBL (not its subtree) and its records from silo <paramref name="from"/> to silo
    /// <paramref name="to"/>, then deactivates. Returns the records moved, or -1 when the KBL is not at home on
    /// <paramref name="from"/> or cannot move now.
    /// </summary>
    [Alias("Relocate")]
    Task<long> Relocate(string from, string to);

    /// <summary>Drops a retired KBL's records from its silo once they have been taken over.</summary>
    [Alias("Purge")]
    Task Purge(long generation);
}
