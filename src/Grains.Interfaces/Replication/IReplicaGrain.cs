using Kbl.Records;

namespace Kbl.Replication;

/// <summary>
/// A replica of one leaf's shard, pinned to one silo (key <c>{silo}|{kblId}</c>): it applies the primary's log to
/// that silo's copy, only from the epoch it was sealed for, and grants the primary read leases.
/// </summary>
public interface IReplicaGrain : IGrainWithStringKey
{
    Task<AppendReply> Append(AppendRequest request);

    Task<SealReply> Seal(SealRequest request);

    /// <summary>Entries of this copy's log after <paramref name="afterSeq"/>, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<LogEntry>> Fetch(long afterSeq, int max);

    /// <summary>Replaces this copy with the primary's snapshot (a rebuild); false when sealed for another epoch.</summary>
    Task<bool> Install(long epoch, IReadOnlyList<StoredRecord> records, long appliedSeq, long lastEpoch);

    /// <summary>The identity of the disk this copy is on.</summary>
    Task<string> Disk();

    public static string Key(string silo, string kblId) => $"{silo}|{kblId}";
}
