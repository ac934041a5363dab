using System.Buffers.Binary;
using System.Text;
using Kbl.Keys;
using Kbl.Replication;
using RocksDbSharp;

namespace Kbl.Records;

// Replicated shards on this silo: each keeps the tail of its replication log (column family "log", keyed
// kblId 0x00 seq) and its position (column family "shards": applied seq, the epoch of that entry, the epoch it is
// sealed for). An entry is applied to the records, the log and the position in one write batch, under a lock with
// the check of the seal, so a primary and a replica of one shard on this silo (two grains) cannot interleave a seal
// and a write. The store also has an identity (the "disk"): a copy on a replaced disk is not the copy it was.
public sealed partial class RecordStore
{
    private const string LogFamily = "log";
    private const string ShardFamily = "shards";
    private static readonly byte[] DiskKey = [0x00, .. "disk"u8];
    private readonly ColumnFamilyHandle _log;
    private readonly ColumnFamilyHandle _shards;
    private readonly Lock _shardLock = new();

    /// <summary>This store's identity, made when it was created.</summary>
    public string DiskId { get; }

    /// <summary>A shard's position: applied seq, the epoch of that entry, and the epoch it is sealed for (zeros when new).</summary>
    public (long Applied, long LastEpoch, long Sealed) ShardPosition(string kblId)
    {
        var raw = _db.Get(Encoding.UTF8.GetBytes(kblId), _shards);
        return raw is null
            ? (0, 0, 0)
            : (BinaryPrimitives.ReadInt64BigEndian(raw), BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(8)), BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(16)));
    }

    public void SealShard(string kblId, long epoch)
    {
        lock (_shardLock)
        {
            var (applied, lastEpoch, sealedEpoch) = ShardPosition(kblId);
            if (epoch > sealedEpoch)
            {
                _db.Put(Encoding.UTF8.GetBytes(kblId), Position(applied, lastEpoch, epoch), _shards, _writeOptions);
            }
        }
    }

    /// <summary>
    /// Applies log entries (the next ones in order) to the records, the log and the position, atomically, while the
    /// shard is sealed for <paramref name="epoch"/> (false, nothing written, otherwise); keeps at most <paramref name="retain"/> entries.
    /// </summary>
    public bool ApplyEntries(string colony, string kblId, long epoch, IReadOnlyList<LogEntry> entries, int retain)
    {
        lock (_shardLock)
        {
            var (applied, _, sealedEpoch) = ShardPosition(kblId);
            if (sealedEpoch != epoch)
            {
                return false;
            }

            if (entries.Count > 0)
            {
                WriteEntries(colony, kblId, applied, sealedEpoch, entries, retain);
            }

            return true;
        }
    }

    private void WriteEntries(string colony, string kblId, long applied, long sealedEpoch, IReadOnlyList<LogEntry> entries, int retain)
    {
        using var batch = new WriteBatch();
        foreach (var entry in entries)
        {
            if (entry.Seq != ++applied)
            {
                throw new InvalidOperationException($"shard {kblId}: entry {entry.Seq} applied after {applied - 1}");
            }

            if (entry.Value is null)
            {
                batch.Delete(StoreKey(colony, entry.Key), _records);
            }
            else
            {
                batch.Put(StoreKey(colony, entry.Key), Encode(entry.Value, entry.Seq), _records);
            }

            batch.Put(LogKey(kblId, entry.Seq), EncodeEntry(entry), _log);
        }

        var last = entries[^1];
        batch.Put(Encoding.UTF8.GetBytes(kblId), Position(last.Seq, last.Epoch, sealedEpoch), _shards);
        batch.Put(Encoding.UTF8.GetBytes(kblId), BitConverter.GetBytes(last.Seq), _clocks);
        if (last.Seq > retain)
        {
            var from = LogKey(kblId, 0);
            var to = LogKey(kblId, last.Seq - retain + 1);
            batch.DeleteRange(from, (ulong)from.Length, to, (ulong)to.Length, _log);
        }

        _db.Write(batch, _writeOptions);
    }

    /// <summary>The kept log entries after <paramref name="seq"/>, in order, at most <paramref name="max"/>.</summary>
    public IReadOnlyList<LogEntry> LogAfter(string kblId, long seq, int max)
    {
        var entries = new List<LogEntry>();
        var upper = LogKey(kblId, long.MaxValue);
        using var iterator = _db.NewIterator(_log, new ReadOptions().SetIterateUpperBound(upper));
        for (iterator.Seek(LogKey(kblId, seq + 1)); iterator.Valid() && entries.Count < max; iterator.Next())
        {
            entries.Add(DecodeEntry(iterator.Key(), iterator.Value()));
        }

        return entries;
    }

    /// <summary>The epoch of the kept entry at <paramref name="seq"/>, or null.</summary>
    public long? LogEpochAt(string kblId, long seq)
    {
        var raw = _db.Get(LogKey(kblId, seq), _log);
        return raw is null ? null : BinaryPrimitives.ReadInt64BigEndian(raw);
    }

    /// <summary>Replaces a shard's records (its range) and position with a snapshot, and forgets its log, while sealed for <paramref name="epoch"/>.</summary>
    public bool InstallShard(string colony, string kblId, KeyRange range, long epoch, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records, long applied, long lastEpoch)
    {
        lock (_shardLock)
        {
            if (ShardPosition(kblId).Sealed != epoch)
            {
                return false;
            }

            WriteSnapshot(colony, kblId, range, epoch, records, applied, lastEpoch);
            return true;
        }
    }

    private void WriteSnapshot(string colony, string kblId, KeyRange range, long sealedEpoch, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records, long applied, long lastEpoch)
    {
        using var batch = new WriteBatch();
        var start = StoreKey(colony, range.Lo);
        var end = range.Hi is null ? ColonyEnd(colony) : StoreKey(colony, range.Hi);
        batch.DeleteRange(start, (ulong)start.Length, end, (ulong)end.Length, _records);
        foreach (var (key, value, version) in records)
        {
            batch.Put(StoreKey(colony, key), Encode(value, version), _records);
        }

        var logStart = LogKey(kblId, 0);
        var logEnd = LogKey(kblId, long.MaxValue);
        batch.DeleteRange(logStart, (ulong)logStart.Length, logEnd, (ulong)logEnd.Length, _log);
        batch.Put(Encoding.UTF8.GetBytes(kblId), Position(applied, lastEpoch, sealedEpoch), _shards);
        batch.Put(Encoding.UTF8.GetBytes(kblId), BitConverter.GetBytes(applied), _clocks);
        _db.Write(batch, _writeOptions);
    }

    private string ReadOrCreateDiskId()
    {
        if (_db.Get(DiskKey, _shards) is { } raw)
        {
            return Encoding.UTF8.GetString(raw);
        }

        var id = Guid.NewGuid().ToString("N");
        _db.Put(DiskKey, Encoding.UTF8.GetBytes(id), _shards, new WriteOptions().SetSync(true));
        return id;
    }

    private static byte[] Position(long applied, long lastEpoch, long sealedEpoch)
    {
        var raw = new byte[24];
        BinaryPrimitives.WriteInt64BigEndian(raw, applied);
        BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(8), lastEpoch);
        BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(16), sealedEpoch);
        return raw;
    }

    private static byte[] LogKey(string kblId, long seq)
    {
        var id = Encoding.UTF8.GetBytes(kblId);
        var key = new byte[id.Length + 1 + sizeof(long)];
        id.CopyTo(key, 0);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(id.Length + 1), seq);
        return key;
    }

    // An entry: epoch (8), a deleted flag (1), key length (4), key, value.
    private static byte[] EncodeEntry(LogEntry entry)
    {
        var value = entry.Value ?? [];
        var raw = new byte[8 + 1 + 4 + entry.Key.Length + value.Length];
        BinaryPrimitives.WriteInt64BigEndian(raw, entry.Epoch);
        raw[8] = entry.Value is null ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(9), entry.Key.Length);
        entry.Key.CopyTo(raw, 13);
        value.CopyTo(raw, 13 + entry.Key.Length);
        return raw;
    }

    private static LogEntry DecodeEntry(byte[] logKey, byte[] raw)
    {
        var seq = BinaryPrimitives.ReadInt64BigEndian(logKey.AsSpan(logKey.Length - sizeof(long)));
        var keyLength = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(9));
        var key = raw.AsSpan(13, keyLength).ToArray();
        var value = raw[8] == 1 ? null : raw.AsSpan(13 + keyLength).ToArray();
        return new LogEntry(seq, BinaryPrimitives.ReadInt64BigEndian(raw), key, value);
    }
}
