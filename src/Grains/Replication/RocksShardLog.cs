using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Replication;

/// <summary>One shard's copy in this silo's record store (RocksDB), as the replication protocol sees it.</summary>
public sealed class RocksShardLog(RecordStore store, string colony, string kblId, KeyRange range, int retain = 100_000) : IShardLog
{
    public string Disk => store.DiskId;

    public long AppliedSeq => store.ShardPosition(kblId).Applied;

    public long LastEpoch => store.ShardPosition(kblId).LastEpoch;

    public long SealedEpoch => store.ShardPosition(kblId).Sealed;

    public void Seal(long epoch) => store.SealShard(kblId, epoch);

    public long? EpochAt(long seq)
    {
        if (seq == 0)
        {
            return 0;
        }

        var (applied, lastEpoch, _) = store.ShardPosition(kblId);
        return seq == applied ? lastEpoch : store.LogEpochAt(kblId, seq);
    }

    public IReadOnlyList<LogEntry> After(long seq, int max) => store.LogAfter(kblId, seq, max);

    public bool Apply(long epoch, IReadOnlyList<LogEntry> entries) => store.ApplyEntries(colony, kblId, epoch, entries, retain);

    public IReadOnlyList<(byte[] Key, byte[] Value, long Version)> Snapshot() =>
        [.. store.Scan(colony, range.Lo, exclusive: false, range.Hi).Select(r => (r.Key, r.Value, r.Version))];

    public bool Install(long epoch, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records, long appliedSeq, long lastEpoch) =>
        store.InstallShard(colony, kblId, range, epoch, records, appliedSeq, lastEpoch);
}
