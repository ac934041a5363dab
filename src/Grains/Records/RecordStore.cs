using System.Buffers.Binary;
using System.Text;
using Kbl.Hosting;
using Kbl.Keys;
using Microsoft.Extensions.Options;
using RocksDbSharp;

namespace Kbl.Records;

/// <summary>
/// The silo's local ordered store: one RocksDB database under <c>{DataPath}/records</c>. Records are keyed by
/// colony and key (<c>colony 0x00 key</c>), not by KBL, so a split whose children stay on this silo moves no
/// bytes. Values carry their version (8 bytes, big-endian) ahead of the payload. A second column family keeps
/// each KBL's version clock, written in the same batch as the record. Replicated shards also keep a replication
/// log and their position in it (RecordStore.Shards.cs).
/// </summary>
public sealed partial class RecordStore : IDisposable
{
    private const int VersionBytes = sizeof(long);
    private readonly RocksDb _db;
    private readonly ColumnFamilyHandle _records;
    private readonly ColumnFamilyHandle _clocks;
    private readonly WriteOptions _writeOptions;

    public RecordStore(IOptions<KblOptions> options)
        : this(Path.Combine(options.Value.DataPath, "records"), options.Value.SyncWrites)
    {
    }

    public RecordStore(string path, bool syncWrites)
    {
        Directory.CreateDirectory(path);
        var dbOptions = new DbOptions().SetCreateIfMissing(true).SetCreateMissingColumnFamilies(true);
        var families = new ColumnFamilies
        {
            { "clocks", new ColumnFamilyOptions() },
            { LogFamily, new ColumnFamilyOptions() },
            { ShardFamily, new ColumnFamilyOptions() },
            { ReplicaFamily, new ColumnFamilyOptions() },
        };
        _db = RocksDb.Open(dbOptions, path, families);
        _records = _db.GetDefaultColumnFamily();
        _clocks = _db.GetColumnFamily("clocks");
        _log = _db.GetColumnFamily(LogFamily);
        _shards = _db.GetColumnFamily(ShardFamily);
        _replicas = _db.GetColumnFamily(ReplicaFamily);
        _writeOptions = new WriteOptions().SetSync(syncWrites);
        DiskId = ReadOrCreateDiskId();
        _installs = PrepareInstalls(path);
    }

    public StoredRecord? Get(string colony, byte[] key)
    {
        using var inside = Enter();
        var raw = _db.Get(StoreKey(colony, key), _records);
        return raw is null ? null : Decode(key, raw);
    }

    /// <summary>Writes (or, with a null value, deletes) one record and advances the KBL's clock, atomically.</summary>
    public void Write(string colony, byte[] key, byte[]? value, long version, string kblId, long clock) =>
        Write(colony, [(key, value, version)], kblId, clock);

    /// <summary>Writes (a null value deletes) records in order and advances the KBL's clock, atomically.</summary>
    public void Write(string colony, IReadOnlyList<(byte[] Key, byte[]? Value, long Version)> records, string kblId, long clock)
    {
        using var inside = Enter();
        using var batch = new WriteBatch();
        foreach (var (key, value, version) in records)
        {
            if (value is null)
            {
                batch.Delete(StoreKey(colony, key), _records);
            }
            else
            {
                batch.Put(StoreKey(colony, key), Encode(value, version), _records);
            }
        }

        batch.Put(Encoding.UTF8.GetBytes(kblId), BitConverter.GetBytes(clock), _clocks);
        _db.Write(batch, _writeOptions);
    }

    /// <summary>Records of <paramref name="colony"/> from <paramref name="from"/> (after it when exclusive) up to <paramref name="to"/>, in key order.</summary>
    public IEnumerable<StoredRecord> Scan(string colony, byte[] from, bool exclusive, byte[]? to)
    {
        var prefix = ColonyPrefix(colony);
        var upper = to is null ? ColonyEnd(colony) : StoreKey(colony, to);
        Iterator iterator;
        using (Enter())
        {
            iterator = KeepIterator(_db.NewIterator(_records, new ReadOptions().SetIterateUpperBound(upper)));
            iterator.Seek(StoreKey(colony, exclusive ? KeyOrder.Successor(from) : from));
        }

        try
        {
            while (true)
            {
                StoredRecord record;
                using (Enter()) // each step on its own: a caller may read a scan across awaits
                {
                    if (!iterator.Valid())
                    {
                        break;
                    }

                    record = Decode(iterator.Key().AsSpan(prefix.Length).ToArray(), iterator.Value());
                    iterator.Next();
                }

                yield return record;
            }
        }
        finally
        {
            ReleaseIterator(iterator);
        }
    }

    /// <summary>Counts the keys and bytes (key + value) of a range.</summary>
    public (long Keys, long Bytes, long MaxVersion) Measure(string colony, KeyRange range)
    {
        long keys = 0, bytes = 0, maxVersion = 0;
        foreach (var record in Scan(colony, range.Lo, exclusive: false, range.Hi))
        {
            keys++;
            bytes += record.Key.Length + record.Value.Length;
            maxVersion = Math.Max(maxVersion, record.Version);
        }

        return (keys, bytes, maxVersion);
    }

    /// <summary>Stores records taken over from another silo, as they are (same versions).</summary>
    public void Import(string colony, IReadOnlyList<StoredRecord> records)
    {
        using var inside = Enter();
        using var batch = new WriteBatch();
        foreach (var record in records)
        {
            batch.Put(StoreKey(colony, record.Key), Encode(record.Value, record.Version), _records);
        }

        _db.Write(batch, _writeOptions);
    }

    /// <summary>Drops every record of a range (after another silo took it over).</summary>
    public void DeleteRange(string colony, KeyRange range)
    {
        using var inside = Enter();
        using var batch = new WriteBatch();
        DeleteRecords(batch, colony, range);
        _db.Write(batch, _writeOptions);
    }

    /// <summary>Adds to <paramref name="batch"/> the removal of every record of <paramref name="colony"/> in <paramref name="range"/>.</summary>
    private void DeleteRecords(WriteBatch batch, string colony, KeyRange range)
    {
        var (start, end) = StoreBounds(colony, range);
        batch.DeleteRange(start, (ulong)start.Length, end, (ulong)end.Length, _records);
    }

    /// <summary>The store keys of a colony's range: from its first key up to (not including) the end of the range.</summary>
    private static (byte[] Start, byte[] End) StoreBounds(string colony, KeyRange range) =>
        (StoreKey(colony, range.Lo), range.Hi is null ? ColonyEnd(colony) : StoreKey(colony, range.Hi));

    /// <summary>
    /// Drops every record of <paramref name="colony"/> and, for each of its KBLs (ids <c>{colony}/…</c>), the
    /// version clock, replica records, replication log and position: a deleted colony leaves nothing on this disk.
    /// Range deletions, whatever the size.
    /// </summary>
    public void DeleteColony(string colony)
    {
        var start = ColonyPrefix(colony);
        var end = ColonyEnd(colony);
        var clocksFrom = Encoding.UTF8.GetBytes(colony + "/");
        var clocksTo = Encoding.UTF8.GetBytes(colony + "0"); // '0' follows '/': the first id past the colony's
        using var inside = Enter();
        using var batch = new WriteBatch();
        batch.DeleteRange(start, (ulong)start.Length, end, (ulong)end.Length, _records);
        foreach (var family in new[] { _clocks, _replicas, _log, _shards })
        {
            batch.DeleteRange(clocksFrom, (ulong)clocksFrom.Length, clocksTo, (ulong)clocksTo.Length, family);
        }

        _db.Write(batch, _writeOptions);
    }

    public void DeleteClock(string kblId)
    {
        using var inside = Enter();
        _db.Remove(Encoding.UTF8.GetBytes(kblId), _clocks, _writeOptions);
    }

    public long ReadClock(string kblId)
    {
        using var inside = Enter();
        var raw = _db.Get(Encoding.UTF8.GetBytes(kblId), _clocks);
        return raw is null ? 0 : BitConverter.ToInt64(raw);
    }

    public void WriteClock(string kblId, long clock)
    {
        using var inside = Enter();
        _db.Put(Encoding.UTF8.GetBytes(kblId), BitConverter.GetBytes(clock), _clocks, _writeOptions);
    }

    /// <summary>The ids of every KBL that has kept records on this silo (those with a version clock here).</summary>
    public IReadOnlyList<string> KblIds()
    {
        var ids = new List<string>();
        using var inside = Enter();
        using var iterator = _db.NewIterator(_clocks);
        for (iterator.SeekToFirst(); iterator.Valid(); iterator.Next())
        {
            ids.Add(Encoding.UTF8.GetString(iterator.Key()));
        }

        return ids;
    }

    private static byte[] ColonyPrefix(string colony)
    {
        var prefix = new byte[Encoding.UTF8.GetByteCount(colony) + 1];
        Encoding.UTF8.GetBytes(colony, prefix);
        return prefix; // ends with the 0x00 separator
    }

    private static byte[] ColonyEnd(string colony)
    {
        var end = ColonyPrefix(colony);
        end[^1] = 0x01;
        return end;
    }

    private static byte[] StoreKey(string colony, ReadOnlySpan<byte> key)
    {
        var prefix = ColonyPrefix(colony);
        var storeKey = new byte[prefix.Length + key.Length];
        prefix.CopyTo(storeKey, 0);
        key.CopyTo(storeKey.AsSpan(prefix.Length));
        return storeKey;
    }

    private static byte[] Encode(byte[] value, long version)
    {
        var raw = new byte[VersionBytes + value.Length];
        BinaryPrimitives.WriteInt64BigEndian(raw, version);
        value.CopyTo(raw, VersionBytes);
        return raw;
    }

    private static StoredRecord Decode(byte[] key, byte[] raw) =>
        new(key, raw.AsSpan(VersionBytes).ToArray(), BinaryPrimitives.ReadInt64BigEndian(raw));
}
