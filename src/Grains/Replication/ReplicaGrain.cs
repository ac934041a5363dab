using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;

namespace Kbl.Replication;

/// <summary>
/// A replica of one leaf's shard on the silo its key names (<c>{silo}|{kblId}</c>): <see cref="ReplicaCore"/> over
/// the silo's record store, its copy kept apart from the colony's records (see RecordStore.Shards). A replica that
/// activates where it held a copy assumes it granted the primary a read lease just before, and honours it.
/// </summary>
[GrainType("kbl-replica")]
[SiloPinnedPlacement]
public sealed class ReplicaGrain(RecordStore store, ReplicationTimings timings, TimeProvider time) : Grain, IReplicaGrain
{
    private ReplicaCore _core = null!;
    private RocksShardLog _log = null!;
    private string _colony = "";
    private string _kblId = "";

    /// <summary>The pages of a snapshot being installed, and the epoch of its primary (a rebuild in progress).</summary>
    private (long Epoch, List<StoredRecord> Records)? _staged;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _kblId = this.GetPrimaryKeyString().Split('|', 2)[1];
        (_colony, _) = ColonyNames.Parse(_kblId);
        _log = new RocksShardLog(store, _colony, _kblId, () => KeyRange.All, replica: true);
        var now = time.GetUtcNow();
        _core = new ReplicaCore(_log, timings.Lease, store.IsReplicaCopy(_kblId) ? now : now - timings.Lease);
        return Task.CompletedTask;
    }

    public Task<AppendReply> Append(AppendRequest request) => Task.FromResult(_core.Append(request, time.GetUtcNow()));

    public Task<SealReply> Seal(SealRequest request) => Task.FromResult(_core.Seal(request, time.GetUtcNow()));

    public Task<IReadOnlyList<LogEntry>> Fetch(long afterSeq, int max) => Task.FromResult(_log.After(afterSeq, max));

    public Task BeginInstall(long epoch)
    {
        _staged = (epoch, []);
        return Task.CompletedTask;
    }

    public Task<bool> InstallPage(long epoch, IReadOnlyList<StoredRecord> records)
    {
        if (_staged is not { } staged || staged.Epoch != epoch)
        {
            return Task.FromResult(false);
        }

        staged.Records.AddRange(records);
        return Task.FromResult(true);
    }

    public Task<bool> EndInstall(long epoch, long appliedSeq, long lastEpoch)
    {
        if (_staged is not { } staged || staged.Epoch != epoch)
        {
            return Task.FromResult(false);
        }

        _staged = null;
        return Task.FromResult(_core.Install(epoch, [.. staged.Records.Select(r => (r.Key, r.Value, r.Version))], appliedSeq, lastEpoch));
    }

    public Task<string> Disk() => Task.FromResult(store.DiskId);

    public Task<CopyDigest> Digest(KeyRange range) => Task.FromResult(store.Digest(_colony, _kblId, range, replica: true));
}

/// <summary>How a primary reaches its replicas: their grains, each call bounded by <see cref="ReplicationTimings.CallTimeout"/>.</summary>
public sealed class GrainReplicaTransport(IGrainFactory grains, string kblId, ReplicationTimings timings) : IReplicaTransport
{
    public Task<AppendReply> Append(string silo, AppendRequest request) => Call(silo, r => r.Append(request));

    public Task<SealReply> Seal(string silo, SealRequest request) => Call(silo, r => r.Seal(request));

    public Task<IReadOnlyList<LogEntry>> Fetch(string silo, long afterSeq, int max) => Call(silo, r => r.Fetch(afterSeq, max));

    /// <summary>Sends the snapshot in pages bounded like every transfer between silos (<see cref="PageBounds.Transfer"/>), far below Orleans' message limit.</summary>
    public async Task<bool> Install(string silo, long epoch, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records, long appliedSeq, long lastEpoch)
    {
        await Call(silo, async r => { await r.BeginInstall(epoch); return true; });
        foreach (var page in PageBounds.Transfer.Pages(records.Select(x => new StoredRecord(x.Key, x.Value, x.Version))))
        {
            if (!await Call(silo, r => r.InstallPage(epoch, page), timings.InstallTimeout))
            {
                return false;
            }
        }

        return await Call(silo, r => r.EndInstall(epoch, appliedSeq, lastEpoch), timings.InstallTimeout);
    }

    public Task<string> Disk(string silo) => Call(silo, r => r.Disk());

    private async Task<T> Call<T>(string silo, Func<IReplicaGrain, Task<T>> call, TimeSpan? timeout = null)
    {
        try
        {
            return await call(grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(silo, kblId))).WaitAsync(timeout ?? timings.CallTimeout);
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
