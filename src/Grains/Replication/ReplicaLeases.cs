using System.Collections.Concurrent;

namespace Kbl.Replication;

/// <summary>
/// The read lease a shard's copy on this silo has granted its primary, shared by every activation of the shard's
/// replica grain in this process (see <see cref="ReplicaLeases"/>): appends extend it, only its primary's hand-over
/// gives it back.
/// </summary>
public sealed class GrantedLease(DateTimeOffset until)
{
    private readonly Lock _gate = new();
    private DateTimeOffset _until = until;

    public DateTimeOffset Until
    {
        get
        {
            lock (_gate)
            {
                return _until;
            }
        }
    }

    public void Extend(DateTimeOffset until)
    {
        lock (_gate)
        {
            if (until > _until)
            {
                _until = until;
            }
        }
    }

    public void GiveBack(DateTimeOffset now)
    {
        lock (_gate)
        {
            _until = now;
        }
    }
}

/// <summary>
/// The read leases this silo process's replicas have granted, one per shard. Orleans may deactivate a replica grain
/// while its process stays up (a silo holding its directory entry died, say); a new activation that assumed a whole
/// lease granted just before would hold the next primary's seal off for a lease — in the middle of a failover, when
/// the old primary is dead. Every activation in one process shares the shard's record instead, so a new one waits
/// only for what was really granted. What an earlier process granted is not known here: those leases ended at most
/// a lease after this process started, which is where a copy found on the disk starts.
/// </summary>
public sealed class ReplicaLeases(TimeProvider time, ReplicationTimings timings)
{
    private readonly DateTimeOffset _started = time.GetUtcNow();
    private readonly ConcurrentDictionary<string, GrantedLease> _granted = new(StringComparer.Ordinal);

    /// <summary>The lease of <paramref name="kblId"/>'s copy here; <paramref name="copyHere"/>: whether the disk holds a replica's copy of it (an earlier process may have granted leases on it).</summary>
    public GrantedLease For(string kblId, bool copyHere) =>
        _granted.GetOrAdd(kblId, _ => new GrantedLease(copyHere ? _started + timings.Lease : DateTimeOffset.MinValue));
}
