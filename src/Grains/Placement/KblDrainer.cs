using Kbl.Grains;
using Kbl.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Placement;

/// <summary>
/// When a silo is asked to stop (SIGTERM), it first hands every KBL homed on it, and their records, to the other
/// silos of its node group, least loaded first; then Orleans shuts down. A silo that is the last of its group
/// keeps its KBLs: they come back with it, from its disk.
/// </summary>
public sealed partial class KblDrainer(
    IGrainFactory grains,
    ClusterLoad load,
    LocalKbls local,
    RecordStore store,
    SiloIdentity me,
    IOptions<KblPlacementOptions> options,
    ILogger<KblDrainer> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>The most passes a drain makes (it stops at the first that moves nothing).</summary>
    private const int MaxPasses = 8;

    /// <summary>How long a drain waits for moves to this silo that began before it (one whose source died never ends).</summary>
    private static readonly TimeSpan ImportWait = TimeSpan.FromSeconds(10);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(KblDrainer), ServiceLifecycleStage.Active + 1, _ => Task.CompletedTask, Drain);

    public async Task Drain(CancellationToken cancellationToken)
    {
        var targets = load.SilosOfGroup(me.NodeGroup).Where(s => s != me.Name).ToList();
        if (targets.Count == 0)
        {
            LogLastOfGroup(logger, me.Name, me.NodeGroup);
            return;
        }

        local.StartDraining();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.DrainTimeout);
        var moved = 0;
        long records = 0;
        try
        {
            // Passes until one moves nothing, each after the moves to this silo that began before the drain have
            // ended: a KBL on its way here when the drain began is handed on too.
            for (var pass = 0; pass < MaxPasses; pass++)
            {
                await ImportsEnded(timeout.Token);
                var ids = local.Snapshot().Select(k => k.Id).Concat(store.KblIds()).Distinct(StringComparer.Ordinal).ToList();
                var movedThisPass = 0;
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = timeout.Token }, async (id, _) =>
                {
                    var n = await HandOver(id, targets);
                    if (n >= 0)
                    {
                        Interlocked.Increment(ref movedThisPass);
                        Interlocked.Add(ref records, n);
                    }
                });
                moved += movedThisPass;
                if (movedThisPass == 0 || targets.Count == 0)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(logger, me.Name, options.Value.DrainTimeout);
        }

        LogDrained(logger, me.Name, moved, records, string.Join(", ", targets));
    }

    /// <summary>
    /// Relocates one KBL to the least loaded target that takes it: a target that refuses (it is stopping too — a
    /// group scaled down by several at once) or does not answer is not asked again. The records moved, or -1.
    /// </summary>
    private async Task<long> HandOver(string id, List<string> targets)
    {
        while (true)
        {
            string target;
            lock (targets)
            {
                if (targets.Count == 0)
                {
                    return -1;
                }

                lock (load)
                {
                    target = load.PickLeastLoaded(targets);
                }
            }

            try
            {
                return await grains.GetGrain<IKblPlacementGrain>(id).Relocate(me.Name, target);
            }
            catch (Exception e) when (e is InvalidOperationException or OrleansException or TimeoutException)
            {
                LogTargetRefused(logger, me.Name, id, target, e.Message);
                lock (targets)
                {
                    targets.Remove(target);
                }
            }
        }
    }

    /// <summary>Waits (at most <see cref="ImportWait"/>) until no move to this silo is under way.</summary>
    private async Task ImportsEnded(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ImportWait;
        while (local.Importing > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        }
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Silo {Silo} handed {Kbls} KBLs and {Records} records to {Targets} before stopping")]
    private static partial void LogDrained(ILogger logger, string silo, int kbls, long records, string targets);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Silo {Silo} is the last of node group {NodeGroup}: its KBLs stay homed here and return when it restarts")]
    private static partial void LogLastOfGroup(ILogger logger, string silo, string nodeGroup);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Silo {Silo} could not hand KBL {Kbl} to {Target} ({Reason}); it asks another silo")]
    private static partial void LogTargetRefused(ILogger logger, string silo, string kbl, string target, string reason);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Silo {Silo} could not hand over all its KBLs within {Timeout}; the rest stay homed here")]
    private static partial void LogDrainTimedOut(ILogger logger, string silo, TimeSpan timeout);
}
