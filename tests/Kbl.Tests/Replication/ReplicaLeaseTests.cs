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

    private static AppendRequest Append(long epoch, bool release, long seq = 1) =>
        new(epoch, "silo-a", seq - 1, seq == 1 ? 0 : epoch, [new LogEntry(seq, epoch, Encoding.UTF8.GetBytes($"k{seq}"), Encoding.UTF8.GetBytes("v"))], release);
}
