using Kbl.Grains;
using Kbl.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Placement;

/// <summary>
/// When a silo is asked to stop (SIGTERM), it first hands every KBL homed on it to the other silos of its node
/// group: a mirrored leaf — once it has its copies in sync elsewhere, within a bound — to a silo holding an in-sync
/// copy of its shard (a hand-over: nothing is copied), any other KBL, with its records, to the least loaded; then
/// Orleans shuts down. A silo that is the last of its group keeps its KBLs: they come back with it, from its disk —
/// but for the leaves of colonies that hibernate idle leaves, which hibernate now (the group may be going to zero:
/// their records wait in the cold tier, and wake on whatever silo of the group comes up next).
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

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(KblDrainer), ServiceLifecycleStage.Active + 1, _ => Task.CompletedTask, Drain);

    public async Task Drain(CancellationToken cancellationToken)
    {
        var targets = load.SilosOfGroup(me.NodeGroup).Where(s => s != me.Name).ToList();
        if (targets.Count == 0)
        {
            LogLastOfGroup(logger, me.Name, me.NodeGroup);
            local.Draining = true; // no leaf wakes here meanwhile
            await Announce();
            await HibernateWindowLeaves(cancellationToken);
            return;
        }

        local.Draining = true;
        await Announce();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.DrainTimeout);
        var moved = 0;
        long records = 0;
        try
        {
            // What may go now goes first; a mirrored leaf still getting its copies in sync elsewhere goes as soon as
            // it has them, or when half the drain's time is up. An idle one is woken first (here, its home), so it
            // counts and adds its copies as an active one does, instead of leaving with one copy fewer.
            await Wake(IdleHere(), timeout.Token);
            var waiting = local.Snapshot().Where(k => !k.ReadyToLeave).Select(k => k.Id).ToHashSet(StringComparer.Ordinal);
            (moved, records) = await Pass(AllIds().Where(id => !waiting.Contains(id)), targets, timeout.Token);
            var (waitedMoved, waitedRecords) = await UntilCopiesElsewhere(waiting, targets, timeout.Token);
            (moved, records) = (moved + waitedMoved, records + waitedRecords);

            // Passes until one moves nothing: a KBL whose move here ended just before the drain began (its clock is
            // here, its activation on its way) is handed on too; a move still under way is refused at its end.
            for (var pass = 0; pass < MaxPasses; pass++)
            {
                var (movedThisPass, recordsThisPass) = await Pass(AllIds(), targets, timeout.Token);
                (moved, records) = (moved + movedThisPass, records + recordsThisPass);
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

    /// <summary>The last silo of a group stops: the leaves here that may hibernate do so now, four at a time, within the drain's time.</summary>
    private async Task HibernateWindowLeaves(CancellationToken cancellationToken)
    {
        var leaves = local.Snapshot().Where(k => k.MayHibernate).Select(k => k.Id).ToList();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.DrainTimeout);
        var slept = 0;
        try
        {
            await Parallel.ForEachAsync(leaves, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = timeout.Token }, async (id, _) =>
            {
                try
                {
                    if ((await grains.GetGrain<IKblPlacementGrain>(id).Hibernate()).Changed > 0)
                    {
                        Interlocked.Increment(ref slept);
                    }
                }
                catch (Exception e) when (e is OrleansException or TimeoutException)
                {
                    LogHandOverFailed(logger, me.Name, id, e.Message); // it stays homed here, and returns with the silo
                }
            });
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(logger, me.Name, options.Value.DrainTimeout);
        }

        LogHibernatedLast(logger, me.Name, slept, leaves.Count);
    }

    /// <summary>The KBLs whose records (not a replica copy) are on this silo's disk and that are not active here.</summary>
    private List<string> IdleHere()
    {
        var active = local.Snapshot().Select(k => k.Id).ToHashSet(StringComparer.Ordinal);
        return [.. store.KblIds().Where(id => !active.Contains(id) && !store.IsReplicaCopy(id))];
    }

    /// <summary>
    /// Activates each of <paramref name="ids"/> where it lives, four at a time, for a quarter of the drain's time at
    /// most (best effort: one not woken by then, or that cannot be woken, is woken by its hand-over, as before).
    /// </summary>
    private async Task Wake(List<string> ids, CancellationToken cancellationToken)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(options.Value.DrainTimeout / 4);
        var woken = 0;
        try
        {
            await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = bound.Token }, async (id, _) =>
            {
                try
                {
                    await grains.GetGrain<IKblGrain>(id).GetTree(0, hotPath: false);
                    Interlocked.Increment(ref woken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogWakeFailed(logger, me.Name, id, e.Message);
                }
            });
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A quarter of the drain's time is up: the hand-overs begin.
        }

        LogWoken(logger, me.Name, woken, ids.Count);
    }

    /// <summary>Every KBL that may be homed here: the active ones, and every one with a version clock in this silo's record store.</summary>
    private List<string> AllIds() => [.. local.Snapshot().Select(k => k.Id).Concat(store.KblIds()).Distinct(StringComparer.Ordinal)];

    /// <summary>Hands each of <paramref name="ids"/> over, four at a time: how many moved, and their records.</summary>
    private async Task<(int Kbls, long Records)> Pass(IEnumerable<string> ids, List<string> targets, CancellationToken cancellationToken)
    {
        var (moved, records) = (0, 0L);
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (id, _) =>
        {
            var n = await HandOver(id, targets, cancellationToken);
            if (n >= 0)
            {
                Interlocked.Increment(ref moved);
                Interlocked.Add(ref records, n);
            }
        });
        return (moved, records);
    }

    /// <summary>
    /// Gives the mirrored leaves homed here that lack copies in sync on the other silos (<paramref name="waiting"/>)
    /// the time to get them — each, on its ticks, keeps every copy its genome asks there while its silo drains,
    /// since its own will not count — and hands each over once it has them, so no shard leaves with fewer copies
    /// than before; for half the drain's time at most (the leaves still short then are handed over by the passes
    /// that follow, and their copies rebuilt after, as after a crash).
    /// </summary>
    private async Task<(int Kbls, long Records)> UntilCopiesElsewhere(HashSet<string> waiting, List<string> targets, CancellationToken cancellationToken)
    {
        var (moved, records) = (0, 0L);
        var started = DateTime.UtcNow;
        var bound = options.Value.DrainTimeout / 2;
        while (waiting.Count > 0)
        {
            var active = local.Snapshot().ToDictionary(k => k.Id, StringComparer.Ordinal);
            var ready = waiting.Where(id => !active.TryGetValue(id, out var kbl) || kbl.ReadyToLeave).ToList();
            waiting.ExceptWith(ready);
            var (kbls, n) = await Pass(ready, targets, cancellationToken);
            (moved, records) = (moved + kbls, records + n);
            if (waiting.Count > 0 && DateTime.UtcNow - started > bound)
            {
                LogCopiesShort(logger, me.Name, waiting.Count, bound);
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        return (moved, records);
    }

    /// <summary>Posts at once that this silo is draining, so the others place nothing here from their next refresh (best effort).</summary>
    private async Task Announce()
    {
        try
        {
            await load.Refresh();
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            LogAnnounceFailed(logger, me.Name, e.Message);
        }
    }

    /// <summary>
    /// Hands one KBL to the target that suits it (<see cref="IKblPlacementGrain.Evacuate"/>): a target that refuses
    /// because it is stopping too (a group scaled down by several at once) is not asked again. The records moved, or
    /// -1 (the KBL is not homed here, cannot move now, or the move failed: the next pass tries again).
    /// </summary>
    private async Task<long> HandOver(string id, List<string> targets, CancellationToken cancellationToken)
    {
        const int MaxWaits = 100;
        var waits = 0;
        while (true)
        {
            string[] candidates;
            lock (targets)
            {
                candidates = [.. targets];
            }

            if (candidates.Length == 0)
            {
                return -1;
            }

            try
            {
                var moved = await grains.GetGrain<IKblPlacementGrain>(id).Evacuate(me.Name, candidates);
                if (moved == IKblPlacementGrain.OnItsWay && ++waits <= MaxWaits)
                {
                    // It has just arrived here (another silo's drain or a move handed it over): hand it on once it is here.
                    await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
                    continue;
                }

                return moved;
            }
            catch (SiloDrainingException e)
            {
                LogTargetRefused(logger, me.Name, id, e.Silo, e.Message);
                if (!candidates.Contains(e.Silo))
                {
                    return -1; // not one it offered (a refusal that names no silo): the next pass tries again
                }

                lock (targets)
                {
                    targets.Remove(e.Silo);
                }
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
            {
                LogHandOverFailed(logger, me.Name, id, e.Message);
                return -1;
            }
        }
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Silo {Silo} handed {Kbls} KBLs and {Records} records to {Targets} before stopping")]
    private static partial void LogDrained(ILogger logger, string silo, int kbls, long records, string targets);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Silo {Silo} is the last of node group {NodeGroup}: its KBLs stay homed here and return when it restarts (the leaves of colonies that hibernate hibernate now)")]
    private static partial void LogLastOfGroup(ILogger logger, string silo, string nodeGroup);

    [LoggerMessage(EventId = 1307, Level = LogLevel.Information, Message = "Silo {Silo}, the last of its group, hibernated {Slept} of its {Leaves} leaves that may hibernate before stopping")]
    private static partial void LogHibernatedLast(ILogger logger, string silo, int slept, int leaves);

    [LoggerMessage(EventId = 1303, Level = LogLevel.Information, Message = "Silo {Silo} could not hand KBL {Kbl} to {Target}, which is stopping too ({Reason}); it asks another silo")]
    private static partial void LogTargetRefused(ILogger logger, string silo, string kbl, string target, string reason);

    [LoggerMessage(EventId = 1304, Level = LogLevel.Warning, Message = "Silo {Silo} could not hand KBL {Kbl} over ({Reason}); its next pass tries again")]
    private static partial void LogHandOverFailed(ILogger logger, string silo, string kbl, string reason);

    [LoggerMessage(EventId = 1305, Level = LogLevel.Warning, Message = "Silo {Silo} could not post that it is draining ({Reason}); the others learn it when it refuses their moves")]
    private static partial void LogAnnounceFailed(ILogger logger, string silo, string reason);

    [LoggerMessage(EventId = 1306, Level = LogLevel.Warning, Message = "Silo {Silo}: {Leaves} mirrored leaves have fewer copies in sync elsewhere than their genome asks after {Bound}; they are handed over all the same")]
    private static partial void LogCopiesShort(ILogger logger, string silo, int leaves, TimeSpan bound);

    [LoggerMessage(EventId = 1312, Level = LogLevel.Information, Message = "Silo {Silo} woke {Woken} of the {Idle} idle KBLs homed on it before handing them over")]
    private static partial void LogWoken(ILogger logger, string silo, int woken, int idle);

    [LoggerMessage(EventId = 1313, Level = LogLevel.Debug, Message = "Silo {Silo} could not wake KBL {Kbl} before its drain: {Reason}")]
    private static partial void LogWakeFailed(ILogger logger, string silo, string kbl, string reason);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Silo {Silo} could not hand over all its KBLs within {Timeout}; the rest stay homed here")]
    private static partial void LogDrainTimedOut(ILogger logger, string silo, TimeSpan timeout);
}
