using System.Collections.Concurrent;
using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;

namespace Kbl.Replication;

/// <summary>
/// A replica of one leaf's shard on the silo its key names (<c>{silo}|{kblId}</c>): <see cref="ReplicaCore"/> over
/// the silo's record store, its copy kept apart from the colony's records (see RecordStore.Shards). The read leases
/// it grants are the process's record of them (<see cref="ReplicaLeases"/>), so an activation that follows another
/// in the same process honours what that one granted, and the first in a new process honours a lease from the
/// process's start (what an earlier process granted is not known).
/// </summary>
[GrainType("kbl-replica")]
[SiloPinnedPlacement]
public sealed class ReplicaGrain(RecordStore store, ReplicaLeases leases, ReplicationTimings timings, TimeProvider time) : Grain, IReplicaGrain
{
    private ReplicaCore _core = null!;
    private RocksShardLog _log = null!;
    private GrantedLease _lease = null!;
    private string _colony = "";
    private string _kblId = "";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _kblId = this.GetPrimaryKeyString().Split('|', 2)[1];
        (_colony, _) = ColonyNames.Parse(_kblId);
        _log = new RocksShardLog(store, _colony, _kblId, () => KeyRange.All, replica: true);
        _lease = leases.Hold(_kblId);
        _core = new ReplicaCore(_log, timings.Lease, _lease);
        return Task.CompletedTask;
    }

    public Task<AppendReply> Append(AppendRequest request) => Task.FromResult(_core.Append(request, time.GetUtcNow()));

    public Task<SealReply> Seal(SealRequest request) => Task.FromResult(_core.Seal(request, time.GetUtcNow()));

    public Task<IReadOnlyList<LogEntry>> Fetch(long afterSeq, int max) => Task.FromResult(_log.After(afterSeq, max));

    public Task<bool> BeginInstall(long epoch, long stream) => Task.FromResult(_core.BeginInstall(epoch, stream));

    public Task<bool> InstallPage(long epoch, long stream, int index, IReadOnlyList<StoredRecord> records) =>
        Task.FromResult(_core.InstallPage(epoch, stream, index, [.. records.Select(r => (r.Key, r.Value, r.Version))]));

    public Task<bool> EndInstall(long epoch, long stream, int pages, long appliedSeq, long lastEpoch) =>
        Task.FromResult(_core.EndInstall(epoch, stream, pages, appliedSeq, lastEpoch));

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _core.DropInstall();
        leases.Release(_kblId);
        return Task.CompletedTask;
    }

    public Task<bool> Fork(string parentId, KeyRange range, long appliedSeq, long lastEpoch)
    {
        if (!store.ForkReplica(parentId, _kblId, range, appliedSeq, lastEpoch))
        {
            return Task.FromResult(false);
        }

        NewCopy();
        return Task.FromResult(true);
    }

    /// <summary>A copy made here by a fork or a fuse: no install under way counts any more (its leases are the process's record).</summary>
    private void NewCopy()
    {
        _core.DropInstall();
        _core = new ReplicaCore(_log, timings.Lease, _lease);
    }

    public Task<string?> Fuse(IReadOnlyList<FusedChild> children, long appliedSeq, long epoch)
    {
        if (!store.FuseReplicas(_kblId, children, appliedSeq, epoch))
        {
            return Task.FromResult<string?>(null);
        }

        NewCopy();
        return Task.FromResult<string?>(store.DiskId);
    }

    public Task<bool> Drop(long epoch)
    {
        // A member removed while its first rebuild streams holds no copy yet: the stream of that epoch stops, so its
        // end, still on its way, finds nothing to finish.
        _core.DropInstall(epoch);
        if (!store.DropReplica(_kblId, epoch))
        {
            return Task.FromResult(false); // a later life's copy: its rebuild under way goes on
        }

        _core.DropInstall();
        return Task.FromResult(true);
    }

    public Task<string> Disk() => Task.FromResult(store.DiskId);

    public Task<CopyDigest> Digest(KeyRange range) => Task.FromResult(store.Digest(_colony, _kblId, range, replica: true));
}

/// <summary>
/// How a primary reaches its replicas: their grains, each call bounded by <see cref="ReplicationTimings.CallTimeout"/>.
/// A rebuild streams off the leaf's turns (on the thread pool), in a turn and at the pace of the silo's <see cref="RebuildThrottle"/>.
/// </summary>
public sealed class GrainReplicaTransport(IGrainFactory grains, string kblId, ReplicationTimings timings, RebuildThrottle throttle) : IReplicaTransport
{
    // A reference per silo, made once: Orleans resolves the interface's type by reflection on every GetGrain.
    private readonly ConcurrentDictionary<string, IReplicaGrain> _replicas = new(StringComparer.Ordinal);

    public Task<AppendReply> Append(string silo, AppendRequest request) => Call(silo, r => r.Append(request));

    public Task<SealReply> Seal(string silo, SealRequest request) => Call(silo, r => r.Seal(request));

    public Task<IReadOnlyList<LogEntry>> Fetch(string silo, long afterSeq, int max) => Call(silo, r => r.Fetch(afterSeq, max));

    /// <summary>Sends the snapshot in pages bounded like every transfer between silos (<see cref="PageBounds.Transfer"/>), far below Orleans' message limit.</summary>
    public Task<long> Install(string silo, long epoch, IShardSnapshot snapshot, CancellationToken cancellation) => Task.Run(
        async () =>
        {
            var stream = Random.Shared.NextInt64();
            if (!await Call(silo, r => r.BeginInstall(epoch, stream)))
            {
                return -1;
            }

            var (bytes, pages) = (0L, 0);
            foreach (var page in PageBounds.Transfer.Pages(snapshot.Records().Select(x => new StoredRecord(x.Key, x.Value, x.Version))))
            {
                var size = page.Sum(r => (long)r.Key.Length + r.Value.Length);
                await throttle.Take(size, cancellation);
                var index = pages++;
                if (!await Call(silo, r => r.InstallPage(epoch, stream, index, page), timings.InstallTimeout))
                {
                    return -1;
                }

                bytes += size;
            }

            return await Call(silo, r => r.EndInstall(epoch, stream, pages, snapshot.AppliedSeq, snapshot.LastEpoch), timings.InstallTimeout) ? bytes : -1;
        },
        cancellation);

    public Task<IDisposable> RebuildTurn(bool urgent, CancellationToken cancellation) => throttle.Turn(cancellation, urgent);

    public Task<string> Disk(string silo) => Call(silo, r => r.Disk());

    private async Task<T> Call<T>(string silo, Func<IReplicaGrain, Task<T>> call, TimeSpan? timeout = null)
    {
        try
        {
            var replica = _replicas.GetOrAdd(silo, s => grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(s, kblId)));
            return await call(replica).WaitAsync(timeout ?? timings.CallTimeout);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or SiloUnavailableException)
        {
            throw new ReplicaUnreachableException(silo, e);
        }
    }
}

/// <summary>Real time for the protocol.</summary>
public sealed class SystemTimeSource(TimeProvider time) : ITimeSource
{
    public DateTimeOffset Now => time.GetUtcNow();

    public Task Delay(TimeSpan delay) => Task.Delay(delay, time);
}
