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

        local.Draining = true;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.DrainTimeout);
        var moved = 0;
        long records = 0;
        try
        {
            // Two passes: a KBL that was on its way here when the drain began arrives during the first.
            for (var pass = 0; pass < 2; pass++)
            {
                var ids = local.Snapshot().Select(k => k.Id).Concat(store.KblIds()).Distinct(StringComparer.Ordinal).ToList();
                await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = timeout.Token }, async (id, _) =>
            {
                string target;
                lock (load)
                {
                    target = load.PickLeastLoaded(targets);
                }

                var n = await grains.GetGrain<IKblPlacementGrain>(id).Relocate(me.Name, target);
                if (n >= 0)
                {
                    Interlocked.Increment(ref moved);
                    Interlocked.Add(ref records, n);
                }
            });
            }
        }
        catch (OperationCanceledException)
        {
            LogDrainTimedOut(logger, me.Name, options.Value.DrainTimeout);
        }

        LogDrained(logger, me.Name, moved, records, string.Join(", ", targets));
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "Silo {Silo} handed {Kbls} KBLs and {Records} records to {Targets} before stopping")]
    private static partial void LogDrained(ILogger logger, string silo, int kbls, long records, string targets);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Warning, Message = "Silo {Silo} is the last of node group {NodeGroup}: its KBLs stay homed here and return when it restarts")]
    private static partial void LogLastOfGroup(ILogger logger, string silo, string nodeGroup);

    [LoggerMessage(EventId = 1302, Level = LogLevel.Warning, Message = "Silo {Silo} could not hand over all its KBLs within {Timeout}; the rest stay homed here")]
    private static partial void LogDrainTimedOut(ILogger logger, string silo, TimeSpan timeout);
}
