using System.Collections.Concurrent;

namespace Kbl.Replication;

/// <summary>
/// The read lease a shard's copy on this silo has granted its primary, shared by every activation of the shard's
/// replica grain in this process (see <see cref="ReplicaLeases"/>): appends extend it, only its primary's hand-over
/// gives it back. Read and changed under <see cref="Turn"/>.
/// </summary>
public sealed class GrantedLease(DateTimeOffset until)
{
    /// <summary>
    /// Held by a replica across an append's epoch check and the extension it grants, and across a seal's lease check
    /// and the seal: two activations of one replica at once (a moment Orleans may allow) cannot interleave them.
    /// </summary>
    public Lock Turn { get; } = new();

    public DateTimeOffset Until { get; private set; } = until;

    public void Extend(DateTimeOffset until)
    {
        if (until > Until)
        {
            Until = until;
        }
    }

    public void GiveBack(DateTimeOffset now) => Until = now;
}

/// <summary>
/// The read leases this silo process's replicas have granted, one per shard. Orleans may deactivate a replica grain
/// while its process stays up (a silo holding its directory entry died, say); a new activation that assumed a whole
/// lease granted just before would hold the next primary's seal off for a lease — in the middle of a failover, when
/// the old primary is dead. Every activation in one process shares the shard's record instead, so a new one waits
/// only for what was really granted. What an earlier process granted is not known here: those leases ended at most
/// a lease after this process started, which is where every record starts — whatever the disk says of the copy now
/// (a copy that granted leases as a replica may since have been promoted, or sealed without a write).
/// </summary>
public sealed class ReplicaLeases(TimeProvider time, ReplicationTimings timings)
{
    private readonly DateTimeOffset _started = time.GetUtcNow();
    private readonly ConcurrentDictionary<string, GrantedLease> _granted = new(StringComparer.Ordinal);

    /// <summary>
    /// The lease of <paramref name="kblId"/>'s copy here. One record per KBL this process has held a copy of (some
    /// 200 bytes each, never pruned: a record a live replica still holds must stay the one every activation finds).
    /// </summary>
    public GrantedLease For(string kblId) => _granted.GetOrAdd(kblId, _ => new GrantedLease(_started + timings.Lease));
}
