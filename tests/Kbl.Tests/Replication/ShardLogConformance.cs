using System.Text;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// What the replication protocol needs of a shard's copy, run against the in-memory copy the simulation uses and the
/// RocksDB copy the silos use, so the simulation's verdicts hold for the real store.
/// </summary>
public abstract class ShardLogConformance
{
    /// <summary>A copy of shard <c>[b, m)</c> (<paramref name="retain"/> log entries kept); <see cref="Reopen"/> gives it back after a restart.</summary>
    protected abstract IShardLog Create(int retain);

    protected abstract IShardLog Reopen();

    /// <summary>Every record the store holds (all of it, not only the shard's range).</summary>
    protected abstract IReadOnlyDictionary<string, (string Value, long Version)> Everything();

    [Fact]
    public void Entries_apply_in_order_to_the_records_the_log_and_the_position()
    {
        var log = Create(retain: 100);
        log.Seal(1);
        Assert.True(log.Apply(1, [Entry(1, 1, "b1", "x"), Entry(2, 1, "b2", "y")]));
        log.Seal(2);
        Assert.True(log.Apply(2, [Entry(3, 2, "b1", null)]));

        Assert.Equal((3, 2), (log.AppliedSeq, log.LastEpoch));
        Assert.Equal([2L, 3L], log.After(1, 10).Select(e => e.Seq));
        Assert.Equal([2L], log.After(1, 1).Select(e => e.Seq));
        Assert.Null(log.After(2, 10).Single().Value);
        Assert.Equal((1L, 1L, 2L, 0L), (log.EpochAt(1)!.Value, log.EpochAt(2)!.Value, log.EpochAt(3)!.Value, log.EpochAt(0)!.Value));
        Assert.Equal([("b2", "y", 2L)], Records(log));
        Assert.Throws<InvalidOperationException>(() => log.Apply(2, [Entry(5, 2, "b3", "z")]));
    }

    [Fact]
    public void The_newest_entries_are_kept_and_older_ones_become_unknown()
    {
        var log = Create(retain: 3);
        log.Seal(1);
        log.Apply(1, [.. Enumerable.Range(1, 10).Select(i => Entry(i, 1, $"b{i:d2}", "v"))]);

        // At least the window is kept, in order up to the last entry (a copy may keep more: RocksDB keeps a write's
        // entries together, and trims every few writes).
        Assert.Equal(1, log.EpochAt(10));
        Assert.Equal([8L, 9L, 10L], log.After(0, 100).Select(e => e.Seq).TakeLast(3));
        Assert.Equal([9L, 10L], log.After(8, 100).Select(e => e.Seq));

        // The window moves with every entry applied on its own too, and what falls out of it (by more than a segment of
        // RocksDB's, 256 entries) is unknown.
        foreach (var i in Enumerable.Range(11, 290))
        {
            log.Apply(1, [Entry(i, 1, $"b{i % 50:d2}", "v")]);
        }

        var kept = log.After(0, 1000).Select(e => e.Seq).ToList();
        Assert.Equal(Enumerable.Range((int)kept[0], kept.Count).Select(i => (long)i), kept); // in order, no gap
        Assert.Equal([298L, 299L, 300L], kept.TakeLast(3));
        Assert.InRange(kept.Count, 3, 3 + 256);
        Assert.Null(log.EpochAt(11));
        Assert.Null(log.EpochAt(2));
        Assert.Equal(1, log.EpochAt(298));
    }

    [Fact]
    public void The_seal_only_rises_and_everything_survives_a_restart()
    {
        var log = Create(retain: 100);
        log.Seal(4);
        log.Apply(4, [Entry(1, 4, "b1", "x")]);
        log.Seal(5);
        log.Seal(3);
        var disk = log.Disk;

        var again = Reopen();
        Assert.Equal((1, 4, 5), (again.AppliedSeq, again.LastEpoch, again.SealedEpoch));
        Assert.Equal(disk, again.Disk);
        Assert.Equal([("b1", "x", 1L)], Records(again));
    }

    [Fact]
    public void A_snapshot_replaces_the_shards_range_and_nothing_else()
    {
        var log = Create(retain: 100);
        log.Seal(3);
        log.Apply(3, [Entry(1, 1, "b1", "old"), Entry(2, 1, "b5", "gone")]);
        log.Install(3, [(Encoding.UTF8.GetBytes("b1"), Encoding.UTF8.GetBytes("new"), 7L), (Encoding.UTF8.GetBytes("c3"), Encoding.UTF8.GetBytes("c"), 8L)], appliedSeq: 9, lastEpoch: 3);

        Assert.Equal((9, 3), (log.AppliedSeq, log.LastEpoch));
        Assert.Empty(log.After(0, 10));
        Assert.Equal(3, log.EpochAt(9));
        Assert.Equal([("b1", "new", 7L), ("c3", "c", 8L)], Records(log));
        Assert.True(Everything().ContainsKey("a-outside"), "a record outside the shard's range was touched");
        Assert.False(Everything().ContainsKey("b5"));
    }

    [Fact]
    public void A_snapshot_shows_the_copy_as_it_was_when_taken_while_writes_go_on()
    {
        var log = Create(retain: 100);
        log.Seal(1);
        log.Apply(1, [Entry(1, 1, "b1", "x"), Entry(2, 1, "b2", "y")]);
        using var snapshot = log.Snapshot();
        log.Apply(1, [Entry(3, 1, "b1", "changed"), Entry(4, 1, "b2", null), Entry(5, 1, "b3", "new")]);

        Assert.Equal((2, 1), (snapshot.AppliedSeq, snapshot.LastEpoch));
        Assert.Equal([("b1", "x", 1L), ("b2", "y", 2L)], [.. snapshot.Records().Select(r => (Encoding.UTF8.GetString(r.Key), Encoding.UTF8.GetString(r.Value), r.Version))]);
        Assert.Equal([("b1", "changed", 3L), ("b3", "new", 5L)], Records(log));
    }

    [Fact]
    public void A_large_snapshot_reads_every_record_once_in_order()
    {
        var log = Create(retain: 100);
        log.Seal(1);
        log.Apply(1, [.. Enumerable.Range(1, 1500).Select(i => Entry(i, 1, $"b{i:d4}", "v"))]);
        using var snapshot = log.Snapshot();
        log.Apply(1, [.. Enumerable.Range(1, 1500).Select(i => Entry(1500 + i, 1, $"b{i:d4}", null))]);

        Assert.Equal([.. Enumerable.Range(1, 1500).Select(i => $"b{i:d4}")], snapshot.Records().Select(r => Encoding.UTF8.GetString(r.Key)));
        Assert.Empty(Records(log));
    }

    [Fact]
    public void A_snapshot_sent_in_pages_takes_effect_whole_at_its_end_and_not_at_all_when_cut_short()
    {
        var log = Create(retain: 100);
        log.Seal(2);
        log.Apply(2, [Entry(1, 2, "b1", "old")]);
        using (var cut = log.BeginInstall())
        {
            cut.Add([Record("b2", "staged", 4)]);
            Assert.Equal([("b1", "old", 1L)], Records(log)); // staged, not installed
        }

        Assert.Equal([("b1", "old", 1L)], Records(log));
        Assert.Equal(1, log.AppliedSeq);

        using (var install = log.BeginInstall())
        {
            install.Add([Record("b2", "p1", 4), Record("b4", "p1", 5)]);
            install.Add([Record("b6", "p2", 6)]);
            install.Add([]);
            Assert.True(install.Finish(2, appliedSeq: 8, lastEpoch: 2));
        }

        Assert.Equal([("b2", "p1", 4L), ("b4", "p1", 5L), ("b6", "p2", 6L)], Records(log));
        Assert.Equal((8, 2), (log.AppliedSeq, log.LastEpoch));
        Assert.True(log.Apply(2, [Entry(9, 2, "b4", null)]), "the log goes on from the snapshot's position");
        Assert.Equal(2, log.EpochAt(8)); // where the log starts is known after it moved on: a copy there catches up
        Assert.Null(log.EpochAt(7));
        Assert.Equal([("b2", "p1", 4L), ("b6", "p2", 6L)], Records(log));

        // An empty snapshot empties the copy.
        Assert.True(log.Install(2, [], appliedSeq: 12, lastEpoch: 2));
        Assert.Empty(Records(log));
        Assert.Equal(12, log.AppliedSeq);
    }

    [Fact]
    public void A_snapshot_replayed_after_the_copy_took_newer_writes_of_its_epoch_is_refused()
    {
        var log = Create(retain: 100);
        log.Seal(2);
        Assert.True(log.Install(2, [Record("b1", "snap", 4)], appliedSeq: 4, lastEpoch: 1));
        Assert.True(log.Apply(2, [Entry(5, 2, "b1", "newer")]));

        Assert.False(log.Install(2, [Record("b1", "snap", 4)], appliedSeq: 4, lastEpoch: 1), "the same snapshot again");
        Assert.Equal([("b1", "newer", 5L)], Records(log));
        Assert.True(log.Install(2, [Record("b1", "newest", 6)], appliedSeq: 6, lastEpoch: 2), "a newer snapshot of the epoch");
    }

    [Fact]
    public void A_writer_of_an_older_epoch_changes_nothing_once_a_newer_one_sealed_the_copy()
    {
        var log = Create(retain: 100);
        log.Seal(1);
        log.Apply(1, [Entry(1, 1, "b1", "x")]);
        log.Seal(2);

        Assert.False(log.Apply(1, [Entry(2, 1, "b1", "stale")]));
        Assert.False(log.Install(1, [(Encoding.UTF8.GetBytes("b2"), Encoding.UTF8.GetBytes("stale"), 5L)], appliedSeq: 5, lastEpoch: 1));
        Assert.Equal((1, 1, 2), (log.AppliedSeq, log.LastEpoch, log.SealedEpoch));
        Assert.Equal([("b1", "x", 1L)], Records(log));
    }

    private static List<(byte[] Key, byte[] Value, long Version)> Snapshot(IShardLog log)
    {
        using var snapshot = log.Snapshot();
        return [.. snapshot.Records()];
    }

    private static (byte[] Key, byte[] Value, long Version) Record(string key, string value, long version) =>
        (Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes(value), version);

    protected static LogEntry Entry(long seq, long epoch, string key, string? value) =>
        new(seq, epoch, Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value));

    private static List<(string Key, string Value, long Version)> Records(IShardLog log) =>
        [.. Snapshot(log).Select(r => (Encoding.UTF8.GetString(r.Key), Encoding.UTF8.GetString(r.Value), r.Version)).OrderBy(r => r.Item1, StringComparer.Ordinal)];
}

[Trait("Category", Category.Unit)]
public sealed class InMemoryShardLogTests : ShardLogConformance
{
    private InMemoryShardLog? _log;
    private readonly Dictionary<string, (string, long)> _outside = new() { ["a-outside"] = ("kept", 1) };

    protected override IShardLog Create(int retain) => _log = new InMemoryShardLog("disk-1", retain);

    protected override IShardLog Reopen() => _log!; // its "disk" outlives a restart

    protected override IReadOnlyDictionary<string, (string Value, long Version)> Everything() =>
        _log!.Records.ToDictionary(r => r.Key, r => (Encoding.UTF8.GetString(r.Value.Value), r.Value.Version)).Concat(_outside).ToDictionary();
}

[Trait("Category", Category.Unit)]
public sealed class RocksShardLogTests : ShardLogConformance, IDisposable
{
    private const string Colony = "shard-log";
    private static readonly KeyRange Range = new(KeyOrder.Encode("b"), KeyOrder.Encode("m"));
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kbl-shardlog-" + Guid.NewGuid().ToString("N")[..8]);
    private RecordStore? _store;
    private int _retain;

    public void Dispose()
    {
        _store?.Dispose();
        Directory.Delete(_path, recursive: true);
    }

    protected override IShardLog Create(int retain)
    {
        _retain = retain;
        _store = new RecordStore(_path, syncWrites: false);
        _store.Import(Colony, [new StoredRecord(KeyOrder.Encode("a-outside"), Encoding.UTF8.GetBytes("kept"), 1)]);
        return new RocksShardLog(_store, Colony, $"{Colony}/r", Range, retain);
    }

    protected override IShardLog Reopen()
    {
        _store!.Dispose();
        _store = new RecordStore(_path, syncWrites: false);
        return new RocksShardLog(_store, Colony, $"{Colony}/r", Range, _retain);
    }

    [Fact]
    public void A_snapshot_staged_when_the_silo_died_is_gone_when_it_starts_again()
    {
        var log = Create(retain: 100);
        log.Seal(1);
        var install = log.BeginInstall();
        install.Add([(Encoding.UTF8.GetBytes("b1"), Encoding.UTF8.GetBytes("staged"), 3L)]);

        var again = Reopen(); // the silo died mid-rebuild: the staged file is dropped, the copy is as it was
        Assert.Empty(Directory.GetFiles(Path.Combine(_path, "installs")));
        Assert.Equal(0, again.AppliedSeq);
        Assert.False(Everything().ContainsKey("b1"));
    }

    [Fact]
    public void A_long_log_keeps_its_window_and_not_much_more()
    {
        var log = Create(retain: 50);
        log.Seal(1);
        for (var seq = 1; seq <= 1000; seq += 7)
        {
            log.Apply(1, [.. Enumerable.Range(seq, Math.Min(7, 1001 - seq)).Select(i => Entry(i, 1, $"b{i % 20:d2}", $"v{i}"))]);
        }

        var kept = log.After(0, 10_000).Select(e => e.Seq).ToList();
        Assert.Equal(Enumerable.Range((int)kept[0], kept.Count).Select(i => (long)i), kept); // in order, no gap
        Assert.Equal(1000, kept[^1]);
        Assert.InRange(kept.Count, 50, 50 + 12 + 256); // the window, and at most a trim step (retain / 4) and a segment more
        Assert.Equal("v1000", Encoding.UTF8.GetString(log.After(999, 1).Single().Value!));
    }

    [Fact]
    public void Logs_of_shards_whose_ids_share_a_prefix_stay_apart()
    {
        var log = Create(retain: 100);
        var other = new RocksShardLog(_store!, Colony, $"{Colony}/r0", Range, retain: 100);
        log.Seal(1);
        other.Seal(1);
        log.Apply(1, [Entry(1, 1, "b1", "x"), Entry(2, 1, "b2", "y")]);
        other.Apply(1, [Entry(1, 1, "c1", "z")]);

        Assert.Equal([2L], log.After(1, 10).Select(e => e.Seq));
        Assert.Empty(other.After(1, 10));
        Assert.Null(other.EpochAt(2));
        Assert.Equal(["b1", "b2"], log.After(0, 10).Select(e => Encoding.UTF8.GetString(e.Key)));
    }

    [Fact]
    public void Entries_a_store_wrote_one_by_one_before_segments_are_still_read()
    {
        var log = Create(retain: 100);
        log.Seal(1);
        log.Apply(1, [Entry(1, 1, "b1", "x")]);
        _store!.Dispose();

        // The layout before segments: the entry's own key (kblId 0x00 seq), its epoch (8), a deleted flag, key length (4), key, value.
        var path = _path;
        var families = new RocksDbSharp.ColumnFamilies();
        foreach (var name in RocksDbSharp.RocksDb.ListColumnFamilies(new RocksDbSharp.DbOptions(), path).Where(n => n != "default"))
        {
            families.Add(name, new RocksDbSharp.ColumnFamilyOptions());
        }

        using (var db = RocksDbSharp.RocksDb.Open(new RocksDbSharp.DbOptions(), path, families))
        {
            var key = new byte[$"{Colony}/r".Length + 9];
            Encoding.UTF8.GetBytes($"{Colony}/r", key);
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(key.Length - 8), 2);
            byte[] entry = [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 2, .. "b2"u8];
            db.Put(key, entry, db.GetColumnFamily("log"));
        }

        var again = Reopen();
        Assert.Equal([(1L, "b1", false), (2L, "b2", true)], again.After(0, 10).Select(e => (e.Seq, Encoding.UTF8.GetString(e.Key), e.Value is null)));
        Assert.Equal(1, again.EpochAt(2));
    }

    protected override IReadOnlyDictionary<string, (string Value, long Version)> Everything() =>
        _store!.Scan(Colony, [], exclusive: false, to: null).ToDictionary(r => KeyOrder.Display(r.Key), r => (Encoding.UTF8.GetString(r.Value), r.Version));
}
