using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Replication;

/// <summary>
/// One shard's copy in this silo's record store (RocksDB), as the replication protocol sees it: a primary's copy
/// (the colony's records, which the KBL serves from) or, with <paramref name="replica"/>, a replica's (kept apart;
/// see RecordStore.Shards). A copy this silo holds the other way is empty from here. <paramref name="range"/> gives
/// the shard's range now (a leaf's shrinks when it hands pieces to new siblings).
/// </summary>
public sealed class RocksShardLog(RecordStore store, string colony, string kblId, Func<KeyRange> range, bool replica = false, int retain = 100_000) : IShardLog
{
    public RocksShardLog(RecordStore store, string colony, string kblId, KeyRange range, int retain = 100_000)
        : this(store, colony, kblId, () => range, replica: false, retain)
    {
    }

    public string Disk => store.DiskId;

    public CopyPosition Position => store.ShardPosition(kblId, replica);

    /// <summary>Whether the copy here is held this log's way (else it is empty from here, and so is its log).</summary>
    private bool Held => store.IsReplicaCopy(kblId) == replica;

    public void Seal(long epoch) => store.SealShard(kblId, epoch);

    public long? EpochAt(long seq) => Position.KnownEpochAt(seq) ?? (Held ? store.LogEpochAt(kblId, seq) : null);

    public IReadOnlyList<LogEntry> After(long seq, int max) => Held ? store.LogAfter(kblId, seq, max) : [];

    public bool Apply(long epoch, IReadOnlyList<LogEntry> entries) => store.ApplyEntries(colony, kblId, epoch, entries, retain, replica);

    public IShardSnapshot Snapshot() => replica
        ? throw new InvalidOperationException("a replica's copy is not snapshotted: rebuilds come from the primary")
        : store.SnapshotShard(colony, kblId, range());

    public IShardInstall BeginInstall() => store.BeginInstall(colony, kblId, range(), replica);
}
