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
/// A record goes once no activation holds it and its lease has run out: it then says no more than a new one would
/// (no lease in effect), and no activation can be left with a record the next one would not find.
/// </summary>
public sealed class ReplicaLeases(TimeProvider time, ReplicationTimings timings)
{
    /// <summary>How many records there may be before the first sweep of those that can go.</summary>
    public const int SweepFrom = 1024;

    private readonly DateTimeOffset _started = time.GetUtcNow();
    private readonly Dictionary<string, Held> _granted = new(StringComparer.Ordinal);
    private int _sweepAt = SweepFrom;

    /// <summary>How many records this process keeps.</summary>
    public int Count
    {
        get
        {
            lock (_granted)
            {
                return _granted.Count;
            }
        }
    }

    /// <summary>The lease of <paramref name="kblId"/>'s copy here, held by an activation until it calls <see cref="Release"/>.</summary>
    public GrantedLease Hold(string kblId)
    {
        lock (_granted)
        {
            if (!_granted.TryGetValue(kblId, out var held))
            {
                if (_granted.Count >= _sweepAt)
                {
                    // Sweeping when the records have doubled since the last sweep keeps it O(1) per activation.
                    var now = time.GetUtcNow();
                    foreach (var (id, _) in _granted.Where(g => g.Value.Holders == 0 && g.Value.Lease.Until <= now).ToList())
                    {
                        _granted.Remove(id);
                    }

                    _sweepAt = Math.Max(SweepFrom, 2 * _granted.Count);
                }

                _granted[kblId] = held = new Held(new GrantedLease(_started + timings.Lease));
            }

            held.Holders++;
            return held.Lease;
        }
    }

    /// <summary>An activation of <paramref name="kblId"/>'s replica lets go of its lease record (it deactivates).</summary>
    public void Release(string kblId)
    {
        lock (_granted)
        {
            if (_granted.TryGetValue(kblId, out var held) && --held.Holders == 0 && held.Lease.Until <= time.GetUtcNow())
            {
                _granted.Remove(kblId);
            }
        }
    }

    private sealed class Held(GrantedLease lease)
    {
        public GrantedLease Lease { get; } = lease;

        public int Holders { get; set; }
    }
}
