namespace Kbl.Replication;

/// <summary>
/// One shard's durable copy on one silo: its records, the tail of its replication log, how far it has applied the
/// log and the newest epoch it was sealed for. Every change is durable before the call returns (as the record
/// store's writes are). Implemented on RocksDB by the silos, in memory by the protocol simulation.
/// </summary>
public interface IShardLog
{
    /// <summary>The identity of the disk this copy is on: a copy on a disk that was replaced is not the copy it was.</summary>
    string Disk { get; }

    long AppliedSeq { get; }

    /// <summary>The epoch of the entry at <see cref="AppliedSeq"/> (0 with no entry).</summary>
    long LastEpoch { get; }

    /// <summary>The newest epoch this copy was sealed for: it takes writes from that epoch only.</summary>
    long SealedEpoch { get; }

    void Seal(long epoch);

    /// <summary>The epoch of the entry at <paramref name="seq"/>, 0 for seq 0, or null when that entry is no longer kept.</summary>
    long? EpochAt(long seq);

    /// <summary>Kept entries after <paramref name="seq"/> in order, at most <paramref name="max"/>; they start right after it unless the log was trimmed past it.</summary>
    IReadOnlyList<LogEntry> After(long seq, int max);

    /// <summary>
    /// Applies entries (the next ones in order) to the records and the log, atomically and durably — only while this
    /// copy is sealed for <paramref name="epoch"/>: false (nothing applied) once a newer epoch sealed it. The check and
    /// the write are one step, so a primary fenced by a newer one on the same silo cannot slip a write in between.
    /// </summary>
    bool Apply(long epoch, IReadOnlyList<LogEntry> entries);

    /// <summary>Every record, for a rebuild: key, value and version.</summary>
    IReadOnlyList<(byte[] Key, byte[] Value, long Version)> Snapshot();

    /// <summary>
    /// Replaces the whole copy with a snapshot taken at <paramref name="appliedSeq"/> (of <paramref name="lastEpoch"/>),
    /// only while sealed for <paramref name="epoch"/>, as <see cref="Apply"/>.
    /// </summary>
    bool Install(long epoch, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records, long appliedSeq, long lastEpoch);
}
