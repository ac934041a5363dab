namespace Kbl.Replication;

/// <summary>
/// The shard's replica configuration in the consensus register (the KBL's grain state, written conditionally):
/// a change succeeds only against the configuration it was made from.
/// </summary>
public interface IConfigRegister
{
    Task<ShardConfig> Read();

    /// <summary>Writes <paramref name="next"/> if the register still holds <paramref name="expected"/>; false when someone else changed it.</summary>
    Task<bool> TryReplace(ShardConfig expected, ShardConfig next);
}

/// <summary>How a primary reaches the copies of its shard on other silos. A call that gets no answer in time throws <see cref="ReplicaUnreachableException"/>.</summary>
public interface IReplicaTransport
{
    Task<AppendReply> Append(string silo, AppendRequest request);

    Task<SealReply> Seal(string silo, SealRequest request);

    /// <summary>Entries of that copy's log after <paramref name="afterSeq"/> (at most <paramref name="max"/>), to take over its tail.</summary>
    Task<IReadOnlyList<LogEntry>> Fetch(string silo, long afterSeq, int max);

    /// <summary>
    /// Replaces that copy with <paramref name="snapshot"/> (a rebuild), streamed in pages; runs outside the primary's
    /// turns. The bytes (keys + values) installed, or -1 when that copy is sealed for another epoch.
    /// </summary>
    Task<long> Install(string silo, long epoch, IShardSnapshot snapshot, CancellationToken cancellation);

    /// <summary>
    /// Waits until this silo may stream one more rebuild (it streams a few at a time, first come first served; an
    /// <paramref name="urgent"/> one at once); disposing the result ends the turn. The primary takes its snapshot
    /// only once its turn came, so the snapshot is as new as it can be and is held no longer than its stream lasts.
    /// </summary>
    Task<IDisposable> RebuildTurn(bool urgent, CancellationToken cancellation);

    /// <summary>The identity of the disk that copy is on.</summary>
    Task<string> Disk(string silo);
}

/// <summary>Time for the protocol: real time in a silo, virtual time in the simulation.</summary>
public interface ITimeSource
{
    DateTimeOffset Now { get; }

    Task Delay(TimeSpan delay);
}

/// <summary>A copy of a shard did not answer in time (its silo is down, paused or cut off).</summary>
public sealed class ReplicaUnreachableException(string silo, Exception? inner = null)
    : Exception($"the copy on silo '{silo}' did not answer", inner)
{
    public string Silo { get; } = silo;
}

/// <summary>Timings of the protocol.</summary>
public sealed record ReplicationTimings
{
    /// <summary>How long a replica's read lease lasts after it acknowledged an append.</summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The share of a lease the primary gives up for clocks that run at slightly different rates.</summary>
    public double Drift { get; init; } = 0.1;

    /// <summary>How long a new primary waits, at most, for copies to let it seal them.</summary>
    public TimeSpan SealTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Entries per append when a copy catches up.</summary>
    public int CatchUpBatch { get; init; } = 256;

    /// <summary>How long a primary waits for a replica's answer before it counts the replica as unreachable (and drops it from the in-sync set).</summary>
    public TimeSpan CallTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a primary waits for a replica to take one page of a snapshot, or to install it (a rebuild).</summary>
    public TimeSpan InstallTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
