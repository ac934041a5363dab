using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// A silo's own agent, keyed by the silo's stable name and always placed on that silo: it reports what the silo
/// holds and takes in the records of KBLs that move to it.
/// </summary>
[Alias("kbl.ISiloAgentGrain")]
public interface ISiloAgentGrain : IGrainWithStringKey
{
    [Alias("GetStats")]
    Task<SiloStats> GetStats();

    /// <summary>Starts taking over a range: drops whatever an earlier, unfinished move left of it here.</summary>
    [Alias("BeginImport")]
    Task BeginImport(string colony, KeyRange range);

    [Alias("Import")]
    Task Import(string colony, IReadOnlyList<StoredRecord> records);

    /// <summary>Finishes a move: the KBL's version clock follows its records.</summary>
    [Alias("EndImport")]
    Task EndImport(string kblId, long clock);

    /// <summary>Drops every record and version clock of a deleted colony from this silo's disk.</summary>
    [Alias("DropColony")]
    Task DropColony(string colony);

    /// <summary>The records this silo's disk holds in a range of a colony (exact; for tests and operators).</summary>
    [Alias("CountRecords")]
    Task<long> CountRecords(string colony, KeyRange range);
}
