using System.Text;
using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// A replica's read lease: granted to its primary with every append, it holds a newer primary's seal off until it
/// runs out — unless the primary gave it back with its last appends (a hand-over), and only the primary it was
/// granted to can give it back.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class ReplicaLeaseTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);
    private static readonly DateTimeOffset Start = DateTimeOffset.UnixEpoch;
    private readonly InMemoryShardLog _log = new("disk-1");
    private readonly ReplicaCore _replica;

    public ReplicaLeaseTests()
    {
        _log.Seal(3);
        _replica = new ReplicaCore(_log, Lease, Start - Lease); // a new copy: no lease granted yet
    }

    [Fact]
    public void A_newer_primary_waits_out_the_lease_an_append_granted()
    {
        Assert.Equal(AppendStatus.Ok, _replica.Append(Append(3, release: false), Start).Status);

        var seal = _replica.Seal(new SealRequest(4, "silo-b"), Start + TimeSpan.FromSeconds(1));
        Assert.Equal(SealStatus.Wait, seal.Status);
        Assert.Equal(TimeSpan.FromSeconds(1), seal.Wait);
        Assert.Equal(SealStatus.Sealed, _replica.Seal(new SealRequest(4, "silo-b"), Start + Lease).Status);
    }

    [Fact]
    public void A_lease_given_back_by_its_primary_lets_the_next_one_seal_at_once_and_still_applies_the_writes()
    {
        Assert.Equal(AppendStatus.Ok, _replica.Append(Append(3, release: false), Start).Status);
        var last = _replica.Append(Append(3, release: true, seq: 2), Start + TimeSpan.FromMilliseconds(500));
        Assert.Equal(AppendStatus.Ok, last.Status);
        Assert.Equal(2, last.AppliedSeq);

        Assert.Equal(SealStatus.Sealed, _replica.Seal(new SealRequest(4, "silo-b"), Start + TimeSpan.FromMilliseconds(500)).Status);
    }

    [Fact]
    public void An_older_primary_cannot_give_back_the_lease_of_the_one_that_sealed_the_copy()
    {
        Assert.Equal(AppendStatus.Ok, _replica.Append(Append(3, release: false), Start).Status);
        Assert.Equal(AppendStatus.Fenced, _replica.Append(Append(2, release: true, seq: 2), Start).Status);

        Assert.Equal(SealStatus.Wait, _replica.Seal(new SealRequest(4, "silo-b"), Start + TimeSpan.FromSeconds(1)).Status);
    }

    [Fact]
    public void A_replica_activated_again_in_the_same_process_honours_what_the_earlier_activation_granted_and_no_more()
    {
        var time = new ManualTime(Start + TimeSpan.FromMinutes(1)); // the silo process has run a while
        var leases = new ReplicaLeases(time, new ReplicationTimings { Lease = Lease });
        var first = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        time.Now += TimeSpan.FromMinutes(1);
        var granted = time.Now;
        Assert.Equal(AppendStatus.Ok, first.Append(Append(3, release: false), granted).Status);

        // Orleans deactivates the replica grain (the silo holding its directory entry died) and the new primary's
        // seal activates it again: while the lease granted above runs it still waits, for that lease only ...
        time.Now = granted + TimeSpan.FromSeconds(1.5);
        var again = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        var seal = again.Seal(new SealRequest(4, "silo-b"), time.Now);
        Assert.Equal(SealStatus.Wait, seal.Status);
        Assert.Equal(TimeSpan.FromSeconds(0.5), seal.Wait);

        // ... and once it ran out the failover goes on at once: no whole lease assumed at a reactivation.
        time.Now = granted + TimeSpan.FromSeconds(1.9);
        var later = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        Assert.Equal(SealStatus.Sealed, later.Seal(new SealRequest(4, "silo-b"), granted + Lease).Status);
    }

    [Fact]
    public void Two_activations_at_once_share_one_lease_so_a_grant_by_either_holds_the_seal_off()
    {
        var time = new ManualTime(Start);
        var leases = new ReplicaLeases(time, new ReplicationTimings { Lease = Lease });
        time.Now += TimeSpan.FromMinutes(1);
        var old = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        var duplicate = new ReplicaCore(_log, Lease, leases.Hold("c/r")); // made before the old one grants
        Assert.Equal(AppendStatus.Ok, old.Append(Append(3, release: false), time.Now).Status);

        Assert.Equal(SealStatus.Wait, duplicate.Seal(new SealRequest(4, "silo-b"), time.Now + TimeSpan.FromSeconds(1)).Status);
    }

    [Fact]
    public void Any_copy_holds_the_seal_off_for_a_lease_from_the_process_start_whatever_the_disk_says_of_it()
    {
        // An earlier process may have granted leases on any copy: one kept as a replica's, one promoted since (a
        // failover's new primary promotes its copy before sealing it), or one sealed but never written to.
        var time = new ManualTime(Start);
        var leases = new ReplicaLeases(time, new ReplicationTimings { Lease = Lease });
        var promoted = new ReplicaCore(_log, Lease, leases.Hold("c/r"));

        var seal = promoted.Seal(new SealRequest(4, "silo-b"), Start + TimeSpan.FromSeconds(0.5));
        Assert.Equal(SealStatus.Wait, seal.Status);
        Assert.Equal(TimeSpan.FromSeconds(1.5), seal.Wait);
        Assert.Equal(SealStatus.Sealed, promoted.Seal(new SealRequest(4, "silo-b"), Start + Lease).Status);
    }

    [Fact]
    public void A_lease_record_no_activation_holds_goes_once_its_lease_ran_out_and_not_before()
    {
        var time = new ManualTime(Start + TimeSpan.FromMinutes(1));
        var leases = new ReplicaLeases(time, new ReplicationTimings { Lease = Lease });
        var first = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        Assert.Equal(AppendStatus.Ok, first.Append(Append(3, release: false), time.Now).Status);

        // Deactivated while its lease runs: the record stays, and the next activation still honours the lease.
        leases.Release("c/r");
        Assert.Equal(1, leases.Count);
        var again = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        Assert.Equal(SealStatus.Wait, again.Seal(new SealRequest(4, "silo-b"), time.Now + TimeSpan.FromSeconds(1)).Status);

        // Deactivated after it ran out: nothing is kept for the shard.
        time.Now += Lease;
        leases.Release("c/r");
        Assert.Equal(0, leases.Count);
    }

    [Fact]
    public void Records_pile_up_no_further_than_what_activations_hold_and_a_held_one_is_never_swept()
    {
        var time = new ManualTime(Start + TimeSpan.FromMinutes(1));
        var leases = new ReplicaLeases(time, new ReplicationTimings { Lease = Lease });
        var old = new ReplicaCore(_log, Lease, leases.Hold("c/r")); // an activation that stays

        // Many shards' replicas come and go while their leases run (each released before its lease ran out) ...
        for (var i = 0; i < 3 * ReplicaLeases.SweepFrom; i++)
        {
            leases.Hold($"c/{i}").Extend(time.Now + Lease);
            leases.Release($"c/{i}");
            time.Now += TimeSpan.FromMilliseconds(10);
        }

        // ... and sweeps drop those whose leases ran out, so the records stay bounded, ...
        Assert.InRange(leases.Count, 1, 2 * ReplicaLeases.SweepFrom);

        // ... never the one an activation holds: a duplicate activation made now shares the lease the old one grants.
        var duplicate = new ReplicaCore(_log, Lease, leases.Hold("c/r"));
        Assert.Equal(AppendStatus.Ok, old.Append(Append(3, release: false), time.Now).Status);
        Assert.Equal(SealStatus.Wait, duplicate.Seal(new SealRequest(4, "silo-b"), time.Now + TimeSpan.FromSeconds(1)).Status);
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static AppendRequest Append(long epoch, bool release, long seq = 1) =>
        new(epoch, "silo-a", seq - 1, seq == 1 ? 0 : epoch, [new LogEntry(seq, epoch, Encoding.UTF8.GetBytes($"k{seq}"), Encoding.UTF8.GetBytes("v"))], release);
}
