using System.Text;
using Kbl.Keys;
using RocksDbSharp;

namespace Kbl.Records;

// Hibernation: a leaf's records leave for the cold tier as one SST file of the colony's keys as stored, and come back
// by ingesting that same file (IngestExternalFiles): no record is replayed one by one either way.
public sealed partial class RecordStore
{
    /// <summary>
    /// Notes that <paramref name="kblId"/>'s shard here belongs to a colony that hibernates idle leaves (or no longer
    /// does), for <see cref="WindowShards"/>. Kept beside the shard's position, so a colony's delete removes it.
    /// </summary>
    public void MarkWindow(string kblId, bool window)
    {
        var key = WindowKey(kblId);
        using var inside = Enter();
        if (window != (_db.Get(key, _shards) is not null))
        {
            if (window)
            {
                _db.Put(key, Array.Empty<byte>(), _shards, _writeOptions);
            }
            else
            {
                _db.Remove(key, _shards, _writeOptions);
            }
        }
    }

    /// <summary>The KBLs whose shard (a primary's copy, with a clock) is on this disk and marked by <see cref="MarkWindow"/>.</summary>
    public IReadOnlyList<string> WindowShards()
    {
        using var inside = Enter();
        return [.. KblIds().Where(id => _db.Get(WindowKey(id), _shards) is not null && !IsReplicaCopy(id))];
    }

    private static byte[] WindowKey(string kblId) => [.. Encoding.UTF8.GetBytes(kblId), 0x00, .. "window"u8];

    /// <summary>A new path in the folder installs stage their files in (same disk as the database, emptied when it opens).</summary>
    public string StagingFile() => Path.Combine(_installs, $"{Guid.NewGuid():N}.sst");

    /// <summary>
    /// Writes the colony's records in <paramref name="range"/> to a new SST file at <paramref name="file"/>, keys as
    /// stored; the records and bytes (keys + values) written. An empty range writes no file (SST files cannot be empty).
    /// Read in the caller's turn, so nothing is written to the range meanwhile.
    /// </summary>
    public (long Records, long Bytes) ExportShard(string colony, KeyRange range, string file)
    {
        var (from, to) = StoreBounds(colony, range);
        var prefix = ColonyPrefix(colony).Length;
        long records = 0, bytes = 0;
        SstFileWriter? writer = null;
        using var inside = Enter();
        try
        {
            using var iterator = _db.NewIterator(_records, new ReadOptions().SetIterateUpperBound(to));
            for (iterator.Seek(from); iterator.Valid(); iterator.Next())
            {
                if (writer is null)
                {
                    writer = new SstFileWriter(new EnvOptions(), new ColumnFamilyOptions());
                    writer.Open(file);
                }

                var key = iterator.Key();
                var value = iterator.Value();
                writer.Add(key, value);
                records++;
                bytes += key.Length - prefix + value.Length - VersionBytes;
            }

            writer?.Finish();
            return (records, bytes);
        }
        finally
        {
            writer?.Dispose();
        }
    }

    /// <summary>
    /// Makes this silo's copy of a shard the records in <paramref name="file"/> (an <see cref="ExportShard"/> of it;
    /// none for an empty shard): the range's records here, its log and any replica copy are dropped, the file is
    /// ingested (moved into the database) and the clock is set to at least <paramref name="clock"/>. The copy is a
    /// primary's with a log starting afresh; the seal stays, so no older epoch writes here again.
    /// </summary>
    public void RestoreShard(string colony, string kblId, KeyRange range, string? file, long clock)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            Arriving(colony, range);
            using (var batch = new WriteBatch())
            {
                EmptyCopy(batch, kblId, ReadPosition(kblId));
                DeleteRecords(batch, colony, range);
                _db.Write(batch, _writeOptions);
            }

            if (file is not null)
            {
                _db.IngestExternalFiles([file], new IngestExternalFileOptions().SetMoveFiles(true), _records);
            }

            WriteClock(kblId, Math.Max(clock, ReadClock(kblId)));
        }
    }

    /// <summary>
    /// Drops this silo's copy of a shard that went to the cold tier: the range's records, the log, any replica copy and
    /// the clock. The seal stays, so no older epoch writes here again.
    /// </summary>
    public void ForgetShard(string colony, string kblId, KeyRange range)
    {
        using var inside = Enter();
        lock (_shardLock)
        {
            using var batch = new WriteBatch();
            EmptyCopy(batch, kblId, ReadPosition(kblId));
            DeleteRecords(batch, colony, range);
            batch.Delete(Encoding.UTF8.GetBytes(kblId), _clocks);
            _db.Write(batch, _writeOptions);
        }
    }
}
