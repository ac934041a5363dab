using System.Text;
using Kbl.Keys;
using Kbl.Replication;
using RocksDbSharp;

namespace Kbl.Records;

// Rebuilding a copy on another silo: the primary reads its shard from a RocksDB snapshot (a point-in-time view, so
// writes go on while it streams), and the copy being rebuilt stages the pages in an SST file (SstFileWriter), then
// swaps it in with one ingest (IngestExternalFiles): no page is held in memory, and no record is written twice.
public sealed partial class RecordStore
{
    /// <summary>Where installs stage their SST files: a folder of the database's own (RocksDB leaves names it does not know alone), emptied when the store opens (leftovers of a crash).</summary>
    private readonly string _installs;

    private static string PrepareInstalls(string path)
    {
        var installs = Path.Combine(path, "installs");
        if (Directory.Exists(installs))
        {
            Directory.Delete(installs, recursive: true);
        }

        Directory.CreateDirectory(installs);
        return installs;
    }

    /// <summary>
    /// A point-in-time view of a primary's copy of a shard (its range of the colony's records) and its position, to
    /// be read from any thread while writes go on.
    /// </summary>
    public IShardSnapshot SnapshotShard(string colony, string kblId, KeyRange range)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            var position = ReadPosition(kblId);
            var (applied, lastEpoch) = position.Replica ? (0L, 0L) : (position.Applied, position.LastEpoch);
            var snapshot = new ShardSnapshot(this, colony, range, applied, lastEpoch);
            _snapshots[snapshot] = 0;
            return snapshot;
        }
    }

    /// <summary>Starts installing a snapshot on this silo's copy of a shard: a replica's (<paramref name="replica"/>) or a primary's, of <paramref name="range"/>.</summary>
    public IShardInstall BeginInstall(string colony, string kblId, KeyRange range, bool replica) =>
        new ShardInstall(this, colony, kblId, range, replica);

    /// <summary>
    /// Reads its range in pages of <see cref="IteratorRecords"/> records, each with an iterator of its own (seeking past
    /// the last key read, under the same snapshot): a stream that lasts minutes does not pin memtables and files.
    /// </summary>
    private sealed class ShardSnapshot : IShardSnapshot
    {
        private const int IteratorRecords = 512;
        private readonly RecordStore _store;
        private readonly Lock _gate = new();
        private readonly Snapshot _snapshot;
        private readonly byte[] _from;
        private readonly byte[] _to;
        private readonly int _prefix;
        private Iterator? _iterator;
        private byte[]? _last;
        private int _read;
        private bool _started;
        private bool _disposed;

        public ShardSnapshot(RecordStore store, string colony, KeyRange range, long appliedSeq, long lastEpoch)
        {
            _store = store;
            _snapshot = store._db.CreateSnapshot();
            (_from, _to) = StoreBounds(colony, range);
            _prefix = ColonyPrefix(colony).Length;
            (AppliedSeq, LastEpoch) = (appliedSeq, lastEpoch);
        }

        public long AppliedSeq { get; }

        public long LastEpoch { get; }

        public IEnumerable<(byte[] Key, byte[] Value, long Version)> Records()
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed || _started, this); // read once
                _started = true;
            }

            while (Next() is { } record)
            {
                yield return record;
            }
        }

        /// <summary>The next record, read under the gate (the store may be closing); null at the end.</summary>
        private (byte[] Key, byte[] Value, long Version)? Next()
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_read++ % IteratorRecords == 0)
                {
                    _iterator?.Dispose();
                    _iterator = _store._db.NewIterator(_store._records, new ReadOptions().SetSnapshot(_snapshot).SetIterateUpperBound(_to));
                    _iterator.Seek(_last is null ? _from : KeyOrder.Successor(_last));
                }

                if (!_iterator!.Valid())
                {
                    return null;
                }

                _last = _iterator.Key();
                var record = Decode(_last.AsSpan(_prefix).ToArray(), _iterator.Value());
                _iterator.Next();
                return (record.Key, record.Value, record.Version);
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                _disposed = true;
                _iterator?.Dispose();
                _snapshot.Dispose();
            }

            _store._snapshots.TryRemove(this, out _);
        }
    }

    private sealed class ShardInstall(RecordStore store, string colony, string kblId, KeyRange range, bool replica) : IShardInstall
    {
        private readonly string _file = Path.Combine(store._installs, $"{Guid.NewGuid():N}.sst");
        private SstFileWriter? _writer;
        private bool _finished;

        public void Add(IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            foreach (var (key, value, version) in records)
            {
                if (_writer is null)
                {
                    _writer = new SstFileWriter(new EnvOptions(), new ColumnFamilyOptions());
                    _writer.Open(_file);
                }

                _writer.Add(replica ? ReplicaKey(kblId, key) : StoreKey(colony, key), Encode(value, version)); // keys must ascend: RocksDB refuses otherwise
            }
        }

        public bool Finish(long epoch, long appliedSeq, long lastEpoch)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            _finished = true;
            using var inside = store.Enter();
            lock (store._shardLock)
            {
                var position = store.ReadPosition(kblId);
                if (position.Sealed != epoch || (position.Replica == replica && position.LastEpoch == epoch && appliedSeq < position.Applied))
                {
                    return false; // sealed for another epoch, or a replay: this epoch's primary had written past it here
                }

                // First the copy is emptied (a crash from here to the end leaves an empty copy at seq 0, rebuilt
                // again), then the staged file goes in whole, then the position says what the copy now holds.
                var id = Encoding.UTF8.GetBytes(kblId);
                using (var batch = new WriteBatch())
                {
                    store.ClearCopy(batch, kblId);
                    if (!replica)
                    {
                        store.Arriving(colony, range);
                        store.DeleteRecords(batch, colony, range);
                    }

                    batch.Put(id, Position(new(0, 0, epoch, replica)), store._shards);
                    store._db.Write(batch, store._writeOptions);
                }

                if (_writer is not null)
                {
                    _writer.Finish();
                    store._db.IngestExternalFiles([_file], new IngestExternalFileOptions().SetMoveFiles(true), replica ? store._replicas : store._records);
                }

                using (var batch = new WriteBatch())
                {
                    batch.Put(id, Position(ShardPositionRecord.StartingAt(appliedSeq, lastEpoch, epoch, replica)), store._shards);
                    batch.Put(id, BitConverter.GetBytes(appliedSeq), store._clocks);
                    store._db.Write(batch, store._writeOptions);
                }

                return true;
            }
        }

        public void Dispose()
        {
            _finished = true;
            _writer?.Dispose();
            _writer = null;
            File.Delete(_file); // gone already when it was ingested (moved into the database)
        }
    }
}
