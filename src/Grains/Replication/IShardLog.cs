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

    /// <summary>
    /// How far the copy has applied the log, the epoch of that entry and the epoch it is sealed for, read together (on
    /// RocksDB one read: a step that needs more than one of them takes this instead of reading each).
    /// </summary>
    CopyPosition Position { get; }

    long AppliedSeq => Position.Applied;

    /// <summary>The epoch of the entry at <see cref="AppliedSeq"/> (0 with no entry).</summary>
    long LastEpoch => Position.LastEpoch;

    /// <summary>The newest epoch this copy was sealed for: it takes writes from that epoch only.</summary>
    long SealedEpoch => Position.Sealed;

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

    /// <summary>
    /// A consistent view of every record of the copy as of <see cref="AppliedSeq"/> now, read later and from any
    /// thread (a rebuild streams it outside the primary's turns while writes go on). Dispose it when done.
    /// </summary>
    IShardSnapshot Snapshot();

    /// <summary>
    /// Starts replacing the whole copy with a snapshot sent in pages: the pages are staged (on disk for RocksDB) and
    /// take effect together at <see cref="IShardInstall.Finish"/>, only while sealed for its epoch, as <see cref="Apply"/>.
    /// </summary>
    IShardInstall BeginInstall();
}

/// <summary>Where a copy stands: its last applied entry (seq and epoch; zeros with none) and the epoch it is sealed for.</summary>
public readonly record struct CopyPosition(long Applied, long LastEpoch, long Sealed)
{
    /// <summary>The epoch of the entry at <paramref name="seq"/> when this position alone tells it (seq 0 or the last applied), else null.</summary>
    public long? KnownEpochAt(long seq) => seq == 0 ? 0 : seq == Applied ? LastEpoch : null;
}

/// <summary>A copy's records as of one log position, in key order.</summary>
public interface IShardSnapshot : IDisposable
{
    long AppliedSeq { get; }

    /// <summary>The epoch of the entry at <see cref="AppliedSeq"/>.</summary>
    long LastEpoch { get; }

    /// <summary>The records, in key order; read once.</summary>
    IEnumerable<(byte[] Key, byte[] Value, long Version)> Records();
}

/// <summary>A snapshot being installed on a copy (a rebuild): pages in key order, then <see cref="Finish"/>; disposing without finishing drops it.</summary>
public interface IShardInstall : IDisposable
{
    /// <summary>Stages records that follow (in key order) every record staged before.</summary>
    void Add(IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records);

    /// <summary>
    /// Replaces the copy with what was staged, taken at <paramref name="appliedSeq"/> (of <paramref name="lastEpoch"/>),
    /// and forgets its log — only while sealed for <paramref name="epoch"/>: false, nothing changed, otherwise.
    /// </summary>
    bool Finish(long epoch, long appliedSeq, long lastEpoch);
}

public static class ShardLogs
{
    /// <summary>Installs a whole snapshot at once (see <see cref="IShardLog.BeginInstall"/>).</summary>
    public static bool Install(this IShardLog log, long epoch, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records, long appliedSeq, long lastEpoch)
    {
        using var install = log.BeginInstall();
        install.Add(records);
        return install.Finish(epoch, appliedSeq, lastEpoch);
    }
}
