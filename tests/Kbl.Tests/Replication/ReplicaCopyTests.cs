using System.Text;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// A replica's copy in a silo's record store is kept apart from the colony's records, so a replica and another
/// KBL's primary copy of overlapping keys on one silo never touch each other; a failover moves the replica's records
/// of the shard's range into the colony's.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class ReplicaCopyTests : IDisposable
{
    private const string Colony = "copies";
    private const string Kbl = "copies/r.0";
    private static readonly KeyRange Range = new(KeyOrder.Encode("b"), KeyOrder.Encode("m"));
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kbl-copies-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly RecordStore _store;

    public ReplicaCopyTests() => _store = new RecordStore(_path, syncWrites: false);

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_path, recursive: true);
    }

    [Fact]
    public void A_replica_copy_and_the_colonys_records_do_not_touch_each_other()
    {
        _store.Import(Colony, [Record("c", "child's", 7)]); // a child of the replicated leaf, born on this silo
        var replica = Replica();
        replica.Seal(1);
        Assert.True(replica.Apply(1, [new LogEntry(1, 1, KeyOrder.Encode("c"), Bytes("leaf's")), new LogEntry(2, 1, KeyOrder.Encode("d"), Bytes("leaf's"))]));

        Assert.Equal(["c=child's@7"], Colony_());
        _store.DeleteRange(Colony, Range); // the child's range purged here: the replica keeps its copy
        Assert.Equal(2, replica.AppliedSeq);
        Assert.True(replica.Install(1, [(KeyOrder.Encode("e"), Bytes("x"), 3)], 3, 1));
        Assert.Empty(Colony_());
    }

    [Fact]
    public void A_promoted_replica_serves_its_range_in_place_of_leftovers_and_only_its_range()
    {
        _store.Import(Colony, [Record("c", "leftover", 1), Record("z", "another KBL's", 2)]);
        var replica = Replica();
        replica.Seal(1);
        replica.Apply(1, [new LogEntry(1, 1, KeyOrder.Encode("d"), Bytes("kept")), new LogEntry(2, 1, KeyOrder.Encode("q"), Bytes("outside"))]);

        _store.PromoteReplica(Colony, Kbl, Range);

        Assert.Equal(["d=kept@1", "z=another KBL's@2"], Colony_());
        Assert.False(_store.IsReplicaCopy(Kbl));
        Assert.Equal(new CopyPosition(2, 1, 1), _store.ShardPosition(Kbl));
        Assert.Equal(0, Replica().AppliedSeq); // seen as a replica, the copy here is empty now
        _store.PromoteReplica(Colony, Kbl, Range); // again, as a retried failover would: nothing changes
        Assert.Equal(["d=kept@1", "z=another KBL's@2"], Colony_());
    }

    [Fact]
    public void A_replica_on_the_silo_of_a_former_primary_starts_its_own_copy()
    {
        IShardLog primary = new RocksShardLog(_store, Colony, Kbl, () => Range);
        primary.Seal(1);
        primary.Apply(1, [new LogEntry(1, 1, KeyOrder.Encode("d"), Bytes("v1"))]);
        var replica = Replica();
        Assert.Equal(0, replica.AppliedSeq);
        Assert.Null(replica.EpochAt(1)); // the primary's log is not the replica's
        Assert.Empty(replica.After(0, 10));

        replica.Seal(2);
        Assert.True(replica.Apply(2, [new LogEntry(1, 2, KeyOrder.Encode("e"), Bytes("v2"))]));
        Assert.Equal(1, replica.AppliedSeq);
        Assert.Equal(2, replica.EpochAt(1));
        Assert.Equal(0, primary.AppliedSeq);
        Assert.Throws<InvalidOperationException>(() => primary.Apply(2, [new LogEntry(1, 2, KeyOrder.Encode("f"), Bytes("v3"))]));
    }

    [Fact]
    public void A_fresh_start_keeps_the_colonys_records_and_drops_the_log_and_any_replica_copy()
    {
        _store.Import(Colony, [Record("d", "v", 5)]);
        var replica = Replica();
        replica.Seal(1);
        replica.Apply(1, [new LogEntry(1, 1, KeyOrder.Encode("e"), Bytes("old"))]);

        _store.ResetShard(Kbl, 5, 3);

        Assert.Equal(new CopyPosition(5, 3, 3), _store.ShardPosition(Kbl));
        Assert.Equal(["d=v@5"], Colony_());
        Assert.Empty(_store.LogAfter(Kbl, 0, 10));
        _store.PromoteReplica(Colony, Kbl, Range); // no replica copy any more
        Assert.Equal(["d=v@5"], Colony_());
    }

    [Fact]
    public void Deleting_a_colony_drops_its_replica_copies_and_logs()
    {
        var replica = Replica();
        replica.Seal(1);
        replica.Apply(1, [new LogEntry(1, 1, KeyOrder.Encode("e"), Bytes("v"))]);

        _store.DeleteColony(Colony);

        Assert.Equal(new CopyPosition(0, 0, 0), _store.ShardPosition(Kbl, replica: true));
        Assert.Empty(_store.LogAfter(Kbl, 0, 10));
        _store.Import(Colony, []);
        _store.PromoteReplica(Colony, Kbl, Range);
        Assert.Empty(Colony_());
    }

    [Fact]
    public void A_division_forks_a_replica_copy_within_the_new_leafs_range_at_the_parents_position_and_never_over_a_live_copy()
    {
        const string child = "copies/r.1";
        var parent = Replica();
        parent.Seal(2);
        parent.Apply(2, [new LogEntry(1, 2, KeyOrder.Encode("c"), Bytes("c1")), new LogEntry(2, 2, KeyOrder.Encode("h"), Bytes("h2")), new LogEntry(3, 2, KeyOrder.Encode("q"), Bytes("q3"))]);
        var range = new KeyRange(KeyOrder.Encode("f"), KeyOrder.Encode("m"));

        Assert.False(_store.ForkReplica(Kbl, child, range, applied: 2, lastEpoch: 2), "the parent's copy is not at that position");
        Assert.True(_store.ForkReplica(Kbl, child, range, applied: 3, lastEpoch: 2));
        Assert.True(_store.ForkReplica(Kbl, child, range, applied: 3, lastEpoch: 2), "the same fork again (a division resumed)");

        IShardLog copy = new RocksShardLog(_store, Colony, child, () => KeyRange.All, replica: true);
        Assert.Equal((3L, 2L, 0L), (copy.AppliedSeq, copy.LastEpoch, copy.SealedEpoch)); // sealed by the new leaf's first epoch, not by the fork
        Assert.Equal(2, copy.EpochAt(3));
        Assert.Equal(1, _store.Digest(Colony, child, KeyRange.All, replica: true).Records); // only "h"

        // The new leaf sealed and wrote its copy: a late fork changes nothing.
        copy.Seal(5);
        Assert.True(copy.Apply(5, [new LogEntry(4, 5, KeyOrder.Encode("i"), Bytes("i4"))]));
        Assert.False(_store.ForkReplica(Kbl, child, range, applied: 3, lastEpoch: 2));
        Assert.Equal(2, _store.Digest(Colony, child, KeyRange.All, replica: true).Records);
        Assert.Equal(4, copy.AppliedSeq);
    }

    [Fact]
    public void A_merge_fuses_its_childrens_replica_copies_at_their_final_positions_and_never_over_a_newer_copy()
    {
        const string parent = "copies/r";
        var (left, right) = ("copies/r.0", "copies/r.1");
        var (leftRange, rightRange) = (new KeyRange([], KeyOrder.Encode("m")), new KeyRange(KeyOrder.Encode("m"), null));
        IShardLog leftCopy = new RocksShardLog(_store, Colony, left, () => KeyRange.All, replica: true);
        leftCopy.Seal(4);
        Assert.True(leftCopy.Apply(4, [new LogEntry(1, 4, KeyOrder.Encode("c"), Bytes("c1")), new LogEntry(2, 4, KeyOrder.Encode("d"), Bytes("d2"))]));
        IShardLog rightCopy = new RocksShardLog(_store, Colony, right, () => KeyRange.All, replica: true);
        rightCopy.Seal(6);
        Assert.True(rightCopy.Apply(6, [new LogEntry(1, 6, KeyOrder.Encode("q"), Bytes("q1"))]));
        // What the merged KBL held before it divided, and left sealed here.
        IShardLog before = new RocksShardLog(_store, Colony, parent, () => KeyRange.All, replica: true);
        before.Seal(3);
        Assert.True(before.Apply(3, [new LogEntry(1, 3, KeyOrder.Encode("z"), Bytes("before its division"))]));

        FusedChild[] children = [new(left, leftRange, 2, 4), new(right, rightRange, 1, 6)];
        Assert.False(_store.FuseReplicas(parent, [children[0], children[1] with { Applied = 2 }], applied: 9, epoch: 7), "a child's copy is not at its final position");
        Assert.Equal(1, before.AppliedSeq); // refused: nothing changed
        Assert.False(_store.FuseReplicas(parent, children, applied: 9, epoch: 3), "an epoch not above the copy's seal");

        Assert.True(_store.FuseReplicas(parent, children, applied: 9, epoch: 7));
        IShardLog fused = new RocksShardLog(_store, Colony, parent, () => KeyRange.All, replica: true);
        Assert.Equal((9L, 7L, 7L), (fused.AppliedSeq, fused.LastEpoch, fused.SealedEpoch));
        Assert.Equal(7, fused.EpochAt(9));
        Assert.False(_store.DropReplica(parent, epoch: 3), "a late drop of the copy it had before its division");
        Assert.Equal(3, _store.Digest(Colony, parent, KeyRange.All, replica: true).Records); // c, d, q: not what it held before
        Assert.Equal(2, _store.Digest(Colony, left, KeyRange.All, replica: true).Records); // the children's copies stay (their KBLs drop them)
        Assert.True(_store.FuseReplicas(parent, children, applied: 9, epoch: 7), "the same fuse again (a repeated message)");
        Assert.Equal(3, _store.Digest(Colony, parent, KeyRange.All, replica: true).Records);

        // The merged leaf sealed and wrote its copy: a late fuse changes nothing, even once the children's copies are gone.
        fused.Seal(8);
        Assert.True(fused.Apply(8, [new LogEntry(10, 8, KeyOrder.Encode("e"), Bytes("e10"))]));
        Assert.False(_store.FuseReplicas(parent, children, applied: 9, epoch: 7));
        Assert.True(_store.DropReplica(left, epoch: 4));
        Assert.False(_store.FuseReplicas(parent, children, applied: 9, epoch: 7));
        Assert.Equal((10L, 8L), (fused.AppliedSeq, fused.LastEpoch));
        Assert.Equal(4, _store.Digest(Colony, parent, KeyRange.All, replica: true).Records);
    }

    [Fact]
    public void A_later_attempt_of_a_merge_fuses_again_under_its_own_epoch_with_what_the_children_wrote_since()
    {
        const string parent = "copies/r";
        const string child = "copies/r.0";
        IShardLog copy = new RocksShardLog(_store, Colony, child, () => KeyRange.All, replica: true);
        copy.Seal(4);
        Assert.True(copy.Apply(4, [new LogEntry(1, 4, KeyOrder.Encode("c"), Bytes("c1"))]));
        Assert.True(_store.FuseReplicas(parent, [new(child, KeyRange.All, 1, 4)], applied: 5, epoch: 6));

        // That attempt was called off; the child took a delete and a write; the next attempt has a newer epoch.
        Assert.True(copy.Apply(4, [new LogEntry(2, 4, KeyOrder.Encode("c"), null), new LogEntry(3, 4, KeyOrder.Encode("d"), Bytes("d3"))]));
        Assert.False(_store.FuseReplicas(parent, [new(child, KeyRange.All, 1, 4)], applied: 5, epoch: 7), "the child's copy is past that position");
        Assert.True(_store.FuseReplicas(parent, [new(child, KeyRange.All, 3, 4)], applied: 5, epoch: 7));

        IShardLog fused = new RocksShardLog(_store, Colony, parent, () => KeyRange.All, replica: true);
        Assert.Equal((5L, 7L, 7L), (fused.AppliedSeq, fused.LastEpoch, fused.SealedEpoch));
        Assert.Equal(1, _store.Digest(Colony, parent, KeyRange.All, replica: true).Records); // "d" only: "c" was deleted since
        Assert.False(_store.FuseReplicas(parent, [new(child, KeyRange.All, 1, 4)], applied: 5, epoch: 6), "the earlier attempt's late message");
    }

    [Fact]
    public void A_copy_of_a_KBL_that_holds_no_shard_any_more_is_dropped_but_never_one_a_later_life_made()
    {
        var replica = Replica();
        replica.Seal(3);
        replica.Apply(3, [new LogEntry(1, 3, KeyOrder.Encode("d"), Bytes("v"))]);

        Assert.False(_store.DropReplica(Kbl, epoch: 2), "a drop from an older life");
        Assert.Equal(1, _store.Digest(Colony, Kbl, KeyRange.All, replica: true).Records);
        Assert.True(_store.DropReplica(Kbl, epoch: 3));
        Assert.Equal(0, _store.Digest(Colony, Kbl, KeyRange.All, replica: true).Records);
        Assert.Empty(_store.LogAfter(Kbl, 0, 10));
        Assert.DoesNotContain(Kbl, _store.KblIds());
        Assert.Equal(3, _store.ShardPosition(Kbl).Sealed); // the seal stays

        // A primary's copy here is the colony's records: never dropped as a replica's.
        _store.Import(Colony, [Record("e", "mine", 4)]);
        _store.ResetShard(Kbl, 4, 4);
        Assert.False(_store.DropReplica(Kbl, epoch: 9));
        Assert.Equal(["e=mine@4"], Colony_());
    }

    private IShardLog Replica() => new RocksShardLog(_store, Colony, Kbl, () => KeyRange.All, replica: true);

    private List<string> Colony_() =>
        [.. _store.Scan(Colony, [], exclusive: false, to: null).Select(r => $"{KeyOrder.Display(r.Key)}={Encoding.UTF8.GetString(r.Value)}@{r.Version}")];

    private static StoredRecord Record(string key, string value, long version) => new(KeyOrder.Encode(key), Bytes(value), version);

    private static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);
}
