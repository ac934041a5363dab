using Orleans.Concurrency;
using Kbl.Colonies;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// The protocol between a KBL and its parent: feedback up, genome down, and the steps of a split (birth, import,
/// commit) and of a merge (retire, export, purge). Only KBLs call it.
/// </summary>
[Alias("kbl.IKblTreeGrain")]
public interface IKblTreeGrain : IGrainWithStringKey
{
    /// <summary>A child's periodic feedback. One-way, so a child never waits on a busy parent.</summary>
    [OneWay, Alias("ReportFeedback")]
    Task ReportFeedback(string childPath, Feedback feedback);

    /// <summary>The colony's genome changed: take it (keeping this KBL's node group) and pass it on to the children.</summary>
    [Alias("UpdateGenome")]
    Task UpdateGenome(Genome genome);

    /// <summary>Split, step 1: become a pending child with this range, genome and clock (idempotent by generation).</summary>
    [Alias("Birth")]
    Task<BirthReply> Birth(ChildBirth birth);

    /// <summary>Split, step 2: records from the parent's silo, for a child born on another silo.</summary>
    [Alias("Import")]
    Task Import(IReadOnlyList<StoredRecord> records);

    /// <summary>Split, step 3 (or a merge called off): a pending or retired KBL of this generation becomes a serving leaf.</summary>
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
}
