using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Kbl.Keys;
using Kbl.Replication;
using RocksDbSharp;

namespace Kbl.Records;

// Replicated shards on this silo: each keeps the tail of its replication log (column family "log", in segments of
// consecutive entries, each keyed kblId 0x00 seq of its first) and its position (column family "shards": applied seq, the epoch of that entry, the epoch it is
// sealed for, and where the copy is). A primary's copy is the colony's records (the default column family, where
// the KBL serves from); a replica's copy is kept apart, in column family "replicas" keyed kblId 0x00 key, so that a
// replica and another KBL's primary on one silo never share records: a split's child born on a silo that holds
// its parent's replica, or a purge of a merged child's range, cannot touch the other's copy. Promoting a replica
// (a failover) moves its records into the colony's in one write batch. The position says which of the two holds
// this silo's copy; seen from the other, the copy is empty. The seal is the shard's on this silo, whichever holds it.
// An entry is applied to the records, the log and the position in one write batch, under a lock with the check of
// the seal, so a primary and a replica of one shard on this silo (two grains) cannot interleave a seal and a
// write. The store also has an identity (the "disk"): a copy on a replaced disk is not the copy it was.
public sealed partial class RecordStore
{
    private const string LogFamily = "log";
    private const string ShardFamily = "shards";
    private const string ReplicaFamily = "replicas";
    private static readonly byte[] DiskKey = [0x00, .. "disk"u8];
    private readonly ColumnFamilyHandle _log;
    private readonly ColumnFamilyHandle _shards;
    private readonly ColumnFamilyHandle _replicas;
    private readonly Lock _shardLock = new();

    /// <summary>This store's identity, made when it was created.</summary>
    public string DiskId { get; }

    /// <summary>
    /// The position of a shard's copy on this silo as a primary (<paramref name="replica"/> false) or a replica
    /// sees it: applied seq, the epoch of that entry, and the epoch the shard is sealed for (zeros when new). A copy
    /// held the other way is empty from here (applied 0); the seal holds either way.
    /// </summary>
    public CopyPosition ShardPosition(string kblId, bool replica = false)
    {
        using var inside = Enter();
        var position = ReadPosition(kblId);
        return position.Replica == replica ? new(position.Applied, position.LastEpoch, position.Sealed) : new(0, 0, position.Sealed);
    }

    /// <summary>The replica copies this disk holds: each one's KBL and the epoch it is sealed for.</summary>
    public IReadOnlyList<(string KblId, long Sealed)> ReplicaCopies()
    {
        var ids = KblIds();
        using var inside = Enter();
        return [.. ids.Select(id => (Id: id, Position: ReadPosition(id))).Where(c => c.Position.Replica).Select(c => (c.Id, c.Position.Sealed))];
    }

    /// <summary>Whether this silo's copy of a shard is kept as a replica's (apart from the colony's records).</summary>
    public bool IsReplicaCopy(string kblId)
    {
        using var inside = Enter();
        return ReadPosition(kblId).Replica;
    }

    public void SealShard(string kblId, long epoch)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            var position = ReadPosition(kblId);
            if (epoch > position.Sealed)
            {
                _db.Put(Encoding.UTF8.GetBytes(kblId), Position(position with { Sealed = epoch }), _shards, _writeOptions);
            }
        }
    }

    /// <summary>
    /// Applies log entries (the next ones in order) to the copy (the colony's records, or the replica's with
    /// <paramref name="replica"/>), the log and the position, atomically, while the shard is sealed for
    /// <paramref name="epoch"/> (false, nothing written, otherwise); keeps at least the last <paramref name="retain"/>
    /// entries (and at most about 1,300 more).
    /// A replica applying to a shard whose copy here was a primary's starts a copy of its own (from seq 1).
    /// </summary>
    public bool ApplyEntries(string colony, string kblId, long epoch, IReadOnlyList<LogEntry> entries, int retain, bool replica = false)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            var position = ReadPosition(kblId);
            if (position.Sealed != epoch)
            {
                return false;
            }

            if (entries.Count > 0)
            {
                if (position.Replica != replica && !replica)
                {
                    throw new InvalidOperationException($"shard {kblId}: its copy here is a replica's; promote it before writing as its primary");
                }

                using var batch = new WriteBatch();
                if (position.Replica != replica)
                {
                    ClearCopy(batch, kblId); // the log and positions were the primary's copy, which stays (as leftovers) in the colony's records
                    position = new ShardPositionRecord(0, 0, position.Sealed, Replica: true);
                }

                WriteEntries(batch, colony, kblId, position, entries, retain);
            }

            return true;
        }
    }

    private void WriteEntries(WriteBatch batch, string colony, string kblId, ShardPositionRecord position, IReadOnlyList<LogEntry> entries, int retain)
    {
        var applied = position.Applied;
        foreach (var entry in entries)
        {
            if (entry.Seq != ++applied)
            {
                throw new InvalidOperationException($"shard {kblId}: entry {entry.Seq} applied after {applied - 1}");
            }

            var key = position.Replica ? ReplicaKey(kblId, entry.Key) : StoreKey(colony, entry.Key);
            var family = position.Replica ? _replicas : _records;
            if (entry.Value is null)
            {
                batch.Delete(key, family);
            }
            else
            {
                batch.Put(key, Encode(entry.Value, entry.Seq), family);
            }
        }

        // The entries go into the log as segments (one per write, as long as it fits in one), not one by one: each
        // entry of its own came with a tombstone of its own when it left the window, and those tombstones outlived every
        // flush into compactions; a segment is deleted by range, mostly while still in the memtable, and never flushed.
        var starts = new List<long>();
        for (var start = 0; start < entries.Count;)
        {
            var (segment, count) = EncodeSegment(entries, start);
            starts.Add(entries[start].Seq);
            batch.Put(LogKey(kblId, entries[start].Seq), segment, _log);
            start += count;
        }

        // Every few writes (each time the seq passes a multiple of the step) one range deletion drops the segments that
        // surely end before the oldest entry of the window: those of this write before the one holding it, or else
        // those that start a whole segment before it (nothing is read to find them, under a lock every shard shares).
        // So at least `retain` entries stay, and at most a step and a segment more. A range deletion on every write
        // would pile up range tombstones that every later read of the log has to go through.
        var last = entries[^1];
        var oldest = last.Seq - retain + 1;
        var step = Math.Clamp(retain / 4, 1, TrimStep);
        if (oldest > 1 && last.Seq / step > position.Applied / step)
        {
            var cut = oldest >= starts[0] ? starts.Last(s => s <= oldest) : Math.Max(oldest - SegmentEntries + 1, 0);
            var (from, to) = (LogKey(kblId, 0), LogKey(kblId, cut));
            batch.DeleteRange(from, (ulong)from.Length, to, (ulong)to.Length, _log);
        }

        batch.Put(Encoding.UTF8.GetBytes(kblId), Position(position with { Applied = last.Seq, LastEpoch = last.Epoch }), _shards);
        batch.Put(Encoding.UTF8.GetBytes(kblId), BitConverter.GetBytes(last.Seq), _clocks);
        _db.Write(batch, _writeOptions);
    }

    /// <summary>The kept log entries after <paramref name="seq"/>, in order, at most <paramref name="max"/>.</summary>
    public IReadOnlyList<LogEntry> LogAfter(string kblId, long seq, int max)
    {
        var entries = new List<LogEntry>();
        seq = Math.Max(seq, 0);
        using var inside = Enter();
        using var iterator = SeekSegment(kblId, seq + 1);
        for (; iterator.Valid() && entries.Count < max; iterator.Next())
        {
            entries.AddRange(DecodeSegment(iterator.Key(), iterator.Value(), seq, max - entries.Count));
        }

        return entries;
    }

    /// <summary>
    /// The epoch of the kept entry at <paramref name="seq"/> — or, at the position the log was started from (a reset,
    /// a snapshot installed, a fork), the epoch of the entry there — else null.
    /// </summary>
    public long? LogEpochAt(string kblId, long seq)
    {
        using var inside = Enter();
        using (var iterator = SeekSegment(kblId, seq))
        {
            if (iterator.Valid() && DecodeSegment(iterator.Key(), iterator.Value(), seq - 1, 1).FirstOrDefault(e => e.Seq == seq) is { } entry)
            {
                return entry.Epoch;
            }
        }

        return ReadPosition(kblId) is { BaseSeq: > 0 } position && position.BaseSeq == seq ? position.BaseEpoch : null;
    }

    /// <summary>
    /// An iterator over a shard's log segments, at the one holding <paramref name="seq"/> — or, when that entry is
    /// not kept, at the first segment after it (or past the end).
    /// </summary>
    private Iterator SeekSegment(string kblId, long seq)
    {
        var (first, upper) = LogBounds(kblId);
        var iterator = _db.NewIterator(_log, new ReadOptions().SetIterateLowerBound(first).SetIterateUpperBound(upper));
        iterator.SeekForPrev(LogKey(kblId, seq));
        if (!iterator.Valid() || SegmentEnd(iterator.Key(), iterator.Value()) < seq)
        {
            iterator.Seek(LogKey(kblId, seq));
        }

        return iterator;
    }

    /// <summary>
    /// Makes this silo's replica copy of a shard its primary copy (a failover): moves the records of
    /// <paramref name="range"/> into the colony's, in place of whatever the colony held there, keeping the log and
    /// position. Nothing happens when the copy here already is a primary's.
    /// </summary>
    public void PromoteReplica(string colony, string kblId, KeyRange range)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            var position = ReadPosition(kblId);
            if (!position.Replica)
            {
                return;
            }

            Arriving(colony, range);
            using var batch = new WriteBatch();
            DeleteRecords(batch, colony, range);
            var (from, to) = ReplicaBounds(kblId);
            using (var iterator = _db.NewIterator(_replicas, new ReadOptions().SetIterateUpperBound(to)))
            {
                for (iterator.Seek(from); iterator.Valid(); iterator.Next())
                {
                    var key = iterator.Key().AsSpan(from.Length);
                    if (range.Contains(key.ToArray()))
                    {
                        batch.Put(StoreKey(colony, key), iterator.Value(), _records);
                    }
                }
            }

            batch.DeleteRange(from, (ulong)from.Length, to, (ulong)to.Length, _replicas);
            batch.Put(Encoding.UTF8.GetBytes(kblId), Position(position with { Replica = false }), _shards);
            _db.Write(batch, _writeOptions);
        }
    }

    /// <summary>
    /// Makes this silo's replica copy of <paramref name="childId"/> (a new leaf of a division) the replica copy of
    /// <paramref name="parentId"/> here within <paramref name="range"/>, at the parent's position. Only while the
    /// parent's copy is a replica's at exactly <paramref name="applied"/> of <paramref name="lastEpoch"/> (so it agrees
    /// with the primary the division read), and the child's copy here is new or this same fork (a division resumed):
    /// a late fork never overwrites a copy that has been sealed or written since. The fork seals nothing (the new
    /// leaf's first epoch seals it). The records are copied from a snapshot in batches outside the shard lock (the
    /// child's copy counts for nothing until its position is written, under the lock, after checking both again), so
    /// a large fork does not hold up the silo's other shards.
    /// </summary>
    public bool ForkReplica(string parentId, string childId, KeyRange range, long applied, long lastEpoch)
    {
        var forked = ShardPositionRecord.StartingAt(applied, lastEpoch, 0, replica: true);
        return CopyReplicas(childId, [(parentId, range)], forked, ShardPositionRecord.None, () =>
            ReadPosition(parentId) is { Replica: true } parent && parent.Applied == applied && parent.LastEpoch == lastEpoch &&
            ReadPosition(childId) is var child && (child == ShardPositionRecord.None || child == forked));
    }

    /// <summary>
    /// A merge's reverse of <see cref="ForkReplica"/>: makes this silo's replica copies of the merged KBL's children
    /// (<paramref name="children"/>, each at exactly its final position) together the replica copy of
    /// <paramref name="parentId"/>, at <paramref name="applied"/> of <paramref name="epoch"/> and sealed for it (a late
    /// drop from before the division cannot touch it), so the merged leaf starts with the copies its children had.
    /// Only while every child's copy here is a replica's at its position and whatever the parent left here before its
    /// division (a copy, or a dropped copy's seal) is sealed below <paramref name="epoch"/>; this same fuse again (a
    /// repeated message) changes nothing. A merge takes a new epoch for every attempt, so a resumed one never mistakes
    /// an earlier attempt's copy for its own. The children's copies stay (their KBLs drop them). The merging KBL is at
    /// home on another silo, so no copy of it here is live.
    /// </summary>
    public bool FuseReplicas(string parentId, IReadOnlyList<FusedChild> children, long applied, long epoch)
    {
        var fused = ShardPositionRecord.StartingAt(applied, epoch, epoch, replica: true);
        long earlier;
        using var inside = Enter();
        lock (_shardLock)
        {
            var current = ReadPosition(parentId);
            if (current == fused)
            {
                return true; // this fuse again (a repeated message): the copy is whole, and it is not copied again
            }

            earlier = current.Sealed;
        }

        return CopyReplicas(parentId, [.. children.Select(c => (c.KblId, c.Range))], fused, new ShardPositionRecord(0, 0, earlier, Replica: true), () =>
            ReadPosition(parentId).Sealed == earlier && earlier < epoch &&
            children.All(c => ReadPosition(c.KblId) is { Replica: true } copy && copy.Applied == c.Applied && copy.LastEpoch == c.LastEpoch));
    }

    /// <summary>
    /// Makes the replica copy of <paramref name="targetId"/> here the records of <paramref name="sources"/>' replica
    /// copies (each within its range), at <paramref name="position"/>, while <paramref name="may"/> holds (checked
    /// before, and again under the shard lock when the position is written). An earlier copy of the target is first
    /// reset to <paramref name="emptied"/> (which <paramref name="may"/> accepts again): it counts for nothing until
    /// the copy is whole, so a copy that fails half-way never leaves a partial copy at a complete copy's position. The
    /// records are copied from a snapshot in batches outside the lock, so a large copy does not hold up the silo's
    /// other shards.
    /// </summary>
    private bool CopyReplicas(string targetId, IReadOnlyList<(string Id, KeyRange Range)> sources, ShardPositionRecord position, ShardPositionRecord emptied, Func<bool> may)
    {
        Snapshot snapshot;
        using var inside = Enter(); // held until the copy ends: it stops at its next batch once the store is closing
        lock (_shardLock)
        {
            if (!may())
            {
                return false;
            }

            if (ReadPosition(targetId) != emptied)
            {
                using var reset = new WriteBatch();
                ClearCopy(reset, targetId);
                reset.Put(Encoding.UTF8.GetBytes(targetId), Position(emptied), _shards);
                _db.Write(reset, _writeOptions);
            }

            snapshot = _db.CreateSnapshot();
        }

        try
        {
            var batch = new WriteBatch();
            try
            {
                ClearCopy(batch, targetId);
                var bytes = 0L;
                foreach (var (sourceId, range) in sources)
                {
                    var (from, to) = ReplicaBounds(sourceId);
                    using var iterator = _db.NewIterator(_replicas, new ReadOptions().SetSnapshot(snapshot).SetIterateUpperBound(to));
                    for (iterator.Seek(ReplicaKey(sourceId, range.Lo)); iterator.Valid(); iterator.Next())
                    {
                        var key = iterator.Key().AsSpan(from.Length);
                        if (range.Hi is not null && KeyOrder.Compare(key, range.Hi) >= 0)
                        {
                            break;
                        }

                        var value = iterator.Value();
                        batch.Put(ReplicaKey(targetId, key), value, _replicas);
                        bytes += key.Length + value.Length;
                        if (bytes >= PageBounds.TransferBytes)
                        {
                            if (Closing)
                            {
                                return false; // the store is closing
                            }

                            _db.Write(batch, _writeOptions);
                            batch.Dispose();
                            (batch, bytes) = (new WriteBatch(), 0);
                        }
                    }
                }

                lock (_shardLock)
                {
                    if (Closing || !may())
                    {
                        return false; // changed meanwhile: what was copied counts for nothing (the next install, fork or fuse clears it)
                    }

                    var id = Encoding.UTF8.GetBytes(targetId);
                    batch.Put(id, Position(position), _shards);
                    batch.Put(id, BitConverter.GetBytes(position.Applied), _clocks);
                    _db.Write(batch, _writeOptions);
                    return true;
                }
            }
            finally
            {
                batch.Dispose();
            }
        }
        finally
        {
            snapshot.Dispose();
        }
    }

    /// <summary>
    /// Drops this silo's replica copy of a KBL that holds no shard any more (it became interior, or merged away):
    /// its records, log and version clock — only while the copy is a replica's sealed for <paramref name="epoch"/>
    /// or an older one, so a late drop never touches a copy a later life of that KBL made (its epochs are higher).
    /// The seal stays. False when nothing was dropped.
    /// </summary>
    public bool DropReplica(string kblId, long epoch)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            var position = ReadPosition(kblId);
            if (!position.Replica || position.Sealed > epoch)
            {
                return false;
            }

            using var batch = new WriteBatch();
            EmptyCopy(batch, kblId, position);
            batch.Delete(Encoding.UTF8.GetBytes(kblId), _clocks);
            _db.Write(batch, _writeOptions);
            return true;
        }
    }

    /// <summary>
    /// Starts a primary's log afresh at <paramref name="applied"/> (the KBL's clock; its entry of
    /// <paramref name="lastEpoch"/>, by default <paramref name="epoch"/>), sealed for <paramref name="epoch"/>: the
    /// copy is the colony's records as they are; the log and any replica copy of the shard here are dropped, so the
    /// replicas are rebuilt from a snapshot, or are copies a division's new leaf inherited at that same position.
    /// </summary>
    public void ResetShard(string kblId, long applied, long epoch, long? lastEpoch = null)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            var position = ReadPosition(kblId);
            using var batch = new WriteBatch();
            ClearCopy(batch, kblId);
            batch.Put(Encoding.UTF8.GetBytes(kblId), Position(ShardPositionRecord.StartingAt(applied, lastEpoch ?? epoch, Math.Max(epoch, position.Sealed), replica: false)), _shards);
            batch.Put(Encoding.UTF8.GetBytes(kblId), BitConverter.GetBytes(Math.Max(applied, ReadClock(kblId))), _clocks);
            _db.Write(batch, _writeOptions);
        }
    }

    /// <summary>
    /// Adds to <paramref name="batch"/> the emptying of this silo's copy of a shard: its log and replica records go,
    /// and its position says it holds nothing, under the seal it had (no older epoch writes here again).
    /// </summary>
    private void EmptyCopy(WriteBatch batch, string kblId, ShardPositionRecord position)
    {
        ClearCopy(batch, kblId);
        batch.Put(Encoding.UTF8.GetBytes(kblId), Position(new(0, 0, position.Sealed, false)), _shards);
    }

    /// <summary>Adds to <paramref name="batch"/> the removal of a shard's log and of its replica records here.</summary>
    private void ClearCopy(WriteBatch batch, string kblId)
    {
        var (logStart, logEnd) = LogBounds(kblId);
        batch.DeleteRange(logStart, (ulong)logStart.Length, logEnd, (ulong)logEnd.Length, _log);
        var (from, to) = ReplicaBounds(kblId);
        batch.DeleteRange(from, (ulong)from.Length, to, (ulong)to.Length, _replicas);
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

    private ShardPositionRecord ReadPosition(string kblId)
    {
        var raw = _db.Get(Encoding.UTF8.GetBytes(kblId), _shards);
        return raw is null
            ? ShardPositionRecord.None
            : new(BinaryPrimitives.ReadInt64BigEndian(raw), BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(8)), BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(16)), raw.Length > 24 && raw[24] == 1)
            {
                BaseSeq = raw.Length >= 41 ? BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(25)) : 0,
                BaseEpoch = raw.Length >= 41 ? BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(33)) : 0,
            };
    }

    // A position: applied (8), last epoch (8), sealed epoch (8), 1 when the copy is a replica's (1), and where its
    // log starts: seq (8) and epoch (8) of the entry before its first (positions written before this have 25 bytes).
    private static byte[] Position(ShardPositionRecord position)
    {
        var raw = new byte[41];
        BinaryPrimitives.WriteInt64BigEndian(raw, position.Applied);
        BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(8), position.LastEpoch);
        BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(16), position.Sealed);
        raw[24] = position.Replica ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(25), position.BaseSeq);
        BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(33), position.BaseEpoch);
        return raw;
    }

    /// <summary>
    /// What this silo's copy of a shard holds within <paramref name="range"/>: the colony's records (a primary's
    /// copy) or the shard's replica records (<paramref name="replica"/>), hashed as stored.
    /// </summary>
    public CopyDigest Digest(string colony, string kblId, KeyRange range, bool replica)
    {
        using var inside = Enter();
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long records = 0, bytes = 0;
        var (from, to) = replica ? ReplicaBounds(kblId) : StoreBounds(colony, range);
        using var iterator = _db.NewIterator(replica ? _replicas : _records, new ReadOptions().SetIterateUpperBound(to));
        Span<byte> lengths = stackalloc byte[8];
        for (iterator.Seek(replica ? ReplicaKey(kblId, range.Lo) : from); iterator.Valid(); iterator.Next())
        {
            var key = iterator.Key().AsSpan(replica ? from.Length : ColonyPrefix(colony).Length);
            if (range.Hi is not null && KeyOrder.Compare(key, range.Hi) >= 0)
            {
                break;
            }

            var value = iterator.Value();
            BinaryPrimitives.WriteInt32BigEndian(lengths, key.Length);
            BinaryPrimitives.WriteInt32BigEndian(lengths[4..], value.Length);
            sha.AppendData(lengths);
            sha.AppendData(key);
            sha.AppendData(value);
            records++;
            bytes += key.Length + Decode(key.ToArray(), value).Value.Length;
        }

        return new CopyDigest(ReadPosition(kblId) is { } position && position.Replica == replica ? position.Applied : 0, records, bytes, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    private static byte[] ReplicaKey(string kblId, ReadOnlySpan<byte> key)
    {
        var (prefix, _) = ReplicaBounds(kblId);
        var replicaKey = new byte[prefix.Length + key.Length];
        prefix.CopyTo(replicaKey, 0);
        key.CopyTo(replicaKey.AsSpan(prefix.Length));
        return replicaKey;
    }

    /// <summary>The keys of a shard's replica records: from <c>kblId 0x00</c> up to <c>kblId 0x01</c>.</summary>
    private static (byte[] From, byte[] To) ReplicaBounds(string kblId)
    {
        var from = new byte[Encoding.UTF8.GetByteCount(kblId) + 1];
        Encoding.UTF8.GetBytes(kblId, from);
        var to = (byte[])from.Clone();
        to[^1] = 0x01;
        return (from, to);
    }

    /// <summary>A shard's position on this silo; its log starts after <see cref="BaseSeq"/> (an entry of <see cref="BaseEpoch"/>).</summary>
    private sealed record ShardPositionRecord(long Applied, long LastEpoch, long Sealed, bool Replica)
    {
        /// <summary>No copy here, and no seal.</summary>
        public static readonly ShardPositionRecord None = new(0, 0, 0, false);

        public long BaseSeq { get; init; }

        public long BaseEpoch { get; init; }

        /// <summary>A copy whose log starts at its position now (reset, installed, forked).</summary>
        public static ShardPositionRecord StartingAt(long applied, long lastEpoch, long sealedEpoch, bool replica) =>
            new(applied, lastEpoch, sealedEpoch, replica) { BaseSeq = applied, BaseEpoch = lastEpoch };
    }

    /// <summary>Where a KBL's log segments are: from its first possible key to its last.</summary>
    private static (byte[] From, byte[] To) LogBounds(string kblId) => (LogKey(kblId, 0), LogKey(kblId, long.MaxValue));

    private static byte[] LogKey(string kblId, long seq)
    {
        var id = Encoding.UTF8.GetBytes(kblId);
        var key = new byte[id.Length + 1 + sizeof(long)];
        id.CopyTo(key, 0);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(id.Length + 1), seq);
        return key;
    }

    // A log segment: the entries of one write from the one its key names on, each epoch (8), a deleted flag (1), key
    // length (4), value length (4), key, value, after a 0x01 and the count (4). A value without the 0x01 is one entry
    // as stores before segments wrote it: epoch (8, its first byte 0x00), deleted flag (1), key length (4), key, value.
    // (Those earlier versions cannot read segments: a silo is not to be downgraded past this layout with its disk.)
    private const byte SegmentMark = 0x01;
    private const int SegmentEntries = 256;
    private const int SegmentBytes = 1 << 20;
    private const int TrimStep = 1024; // at most, between two trims of a log

    /// <summary>A segment of <paramref name="entries"/> from <paramref name="start"/>: as many as fit, and how many.</summary>
    private static (byte[] Segment, int Count) EncodeSegment(IReadOnlyList<LogEntry> entries, int start)
    {
        var (count, size) = (0, 5);
        while (start + count < entries.Count && count < SegmentEntries && (count == 0 || size < SegmentBytes))
        {
            var entry = entries[start + count++];
            size += 17 + entry.Key.Length + (entry.Value?.Length ?? 0);
        }

        var raw = new byte[size];
        raw[0] = SegmentMark;
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(1), count);
        var at = 5;
        for (var i = start; i < start + count; i++)
        {
            var entry = entries[i];
            var value = entry.Value ?? [];
            BinaryPrimitives.WriteInt64BigEndian(raw.AsSpan(at), entry.Epoch);
            raw[at + 8] = entry.Value is null ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(at + 9), entry.Key.Length);
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(at + 13), value.Length);
            entry.Key.CopyTo(raw, at + 17);
            value.CopyTo(raw, at + 17 + entry.Key.Length);
            at += 17 + entry.Key.Length + value.Length;
        }

        return (raw, count);
    }

    private static long SegmentStart(byte[] logKey) => BinaryPrimitives.ReadInt64BigEndian(logKey.AsSpan(logKey.Length - sizeof(long)));

    /// <summary>The seq of a segment's last entry.</summary>
    private static long SegmentEnd(byte[] logKey, byte[] raw) =>
        SegmentStart(logKey) + (raw[0] == SegmentMark ? BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(1)) - 1 : 0);

    /// <summary>The entries of a segment after <paramref name="after"/>, at most <paramref name="max"/> (the others are skipped, not copied).</summary>
    private static List<LogEntry> DecodeSegment(byte[] logKey, byte[] raw, long after, int max)
    {
        var seq = SegmentStart(logKey);
        var entries = new List<LogEntry>();
        if (raw[0] != SegmentMark)
        {
            var keyLength = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(9));
            if (seq > after && max > 0)
            {
                entries.Add(new LogEntry(seq, BinaryPrimitives.ReadInt64BigEndian(raw), raw.AsSpan(13, keyLength).ToArray(), raw[8] == 1 ? null : raw.AsSpan(13 + keyLength).ToArray()));
            }

            return entries;
        }

        var at = 5;
        var count = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(1));
        for (var i = 0; i < count && entries.Count < max; i++)
        {
            var keyLength = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(at + 9));
            var valueLength = BinaryPrimitives.ReadInt32BigEndian(raw.AsSpan(at + 13));
            if (seq + i > after)
            {
                var key = raw.AsSpan(at + 17, keyLength).ToArray();
                var value = raw[at + 8] == 1 ? null : raw.AsSpan(at + 17 + keyLength, valueLength).ToArray();
                entries.Add(new LogEntry(seq + i, BinaryPrimitives.ReadInt64BigEndian(raw.AsSpan(at)), key, value));
            }

            at += 17 + keyLength + valueLength;
        }

        return entries;
    }
}
