using Kbl.Grains;
using Kbl.Provisioning;
using Kbl.Records;

namespace Kbl.Tree;

// Feedback: a leaf measures itself, every KBL reports to its parent on a timer (the root to the provisioning
// grain), interior KBLs roll their children's reports up, and the tick decides on a load split or a merge.
public sealed partial class KblGrain
{
    private readonly FeedbackMeter _meter = new();
    private readonly Dictionary<string, (Feedback Feedback, DateTimeOffset At)> _childFeedback = [];
    private readonly TimeSpan _period = options.Value.FeedbackPeriod;
    private DateTimeOffset? _lastTick;
    private IGrainTimer? _timer;
    private bool _timerKeepsAlive;

    public Task ReportFeedback(string childPath, Feedback feedback)
    {
        if (_presence == Presence.Displaced && !MigrateHome())
        {
            DeactivateOnIdle(); // a merging parent away from the records it took over: the next report tries again
        }

        // A report of no leaves is a retired child's wake-up call: its last real report stays what the parent counts.
        if (feedback.Leaves > 0 || !_childFeedback.ContainsKey(childPath))
        {
            _childFeedback[childPath] = (feedback, time.GetUtcNow());
        }

        return Task.CompletedTask;
    }

    private Feedback OwnFeedback() => State.Role switch
    {
        KblRole.Leaf when State.Hibernation is { } sleep => new Feedback(0, 0, sleep.Records, sleep.Bytes, null, 1, 0, Hibernated: 1, HibernatedBytes: sleep.Bytes),
        KblRole.Leaf => new Feedback(_meter.ReadsPerSecond, _meter.WritesPerSecond, _keys, _bytes, _meter.LastAccess, 1, 0, Groups: GroupShares()),
        KblRole.Interior => Rollup(),
        _ => Feedback.Empty,
    };

    /// <summary>
    /// Where an awake leaf's load is: its silo's group, where its records are — and, while it is on its way to another
    /// group (a move by its copies), that group too, where its copies are being built.
    /// </summary>
    private IReadOnlyList<GroupShare> GroupShares() => silo.NodeGroup == State.Genome.NodeGroup
        ? [new GroupShare(silo.NodeGroup, _meter.OpsPerSecond, _bytes, 1)]
        : [new GroupShare(silo.NodeGroup, _meter.OpsPerSecond, _bytes, 1), new GroupShare(State.Genome.NodeGroup, 0, _bytes, 1)];

    /// <summary>The sum of the children's last reports.</summary>
    private Feedback Rollup()
    {
        var sum = ChildReports().Aggregate(Feedback.Empty, (total, child) => total.Add(child.Feedback));
        return sum with { Depth = sum.Depth + 1 };
    }

    /// <summary>Each child's last report; the rates of a child silent for three periods count as zero.</summary>
    private IEnumerable<(string Path, Feedback Feedback)> ChildReports()
    {
        var now = time.GetUtcNow();
        foreach (var child in State.Children)
        {
            if (_childFeedback.TryGetValue(child.Path, out var report))
            {
                yield return (child.Path, now - report.At > 3 * _period
                    ? report.Feedback with { ReadsPerSecond = 0, WritesPerSecond = 0, Groups = report.Feedback.Groups?.Select(g => g with { OpsPerSecond = 0 }).ToList() }
                    : report.Feedback);
            }
        }
    }

    /// <summary>
    /// The root's report to the provisioning grain: the colony's roll-up and each top-level subtree's. Hibernated
    /// leaves occupy no silo: their bytes and KBLs do not count, and a colony none of whose leaves is awake asks for
    /// no node at all (its group may go to zero; a wake asks for one again). The load is split by node group too
    /// (<see cref="ColonyDemand.Groups"/>): a subtree moved to another group counts there, floor included.
    /// </summary>
    private ColonyDemand Demand(Feedback total)
    {
        var subtrees = State.Role != KblRole.Interior ? [] : ChildReports()
            .Select(c => new SubtreeDemand(c.Path, c.Feedback.OpsPerSecond, c.Feedback.ActiveBytes, c.Feedback.ActiveLeaves))
            .ToList();

        // A mirrored colony keeps each leaf's copies on distinct silos of its group: the floor is that many nodes. None
        // only on evidence that every leaf sleeps: a root that has not heard from every child yet (it was just
        // activated, a child's silo is down) may be missing awake leaves.
        var heardAll = State.Role != KblRole.Interior || State.Children.All(c => _childFeedback.ContainsKey(c.Path));
        var floor = total.ActiveLeaves == 0 && heardAll ? 0 : Redundancy.Mirrored ? Redundancy.Copies : 1;
        return new ColonyDemand(_colony, State.Genome.NodeGroup, total.OpsPerSecond, total.ActiveBytes, total.ActiveLeaves, floor, subtrees)
        {
            Incarnation = State.Incarnation,
            Groups = total.Groups ?? [],
        };
    }

    /// <summary>Sends the root's report to the provisioning grain (one-way).</summary>
    private void ReportDemand(Feedback total) =>
        _ = GrainFactory.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key).ReportDemand(Demand(total));

    /// <summary>
    /// The feedback timer. A leaf of a colony that hibernates idle leaves keeps itself active until it does (an idle
    /// activation would otherwise be collected first, its records still on disk, and nothing would hibernate it).
    /// </summary>
    private void StartTimer()
    {
        var keepAlive = State.Role == KblRole.Leaf && State.Genome.HibernateAfter > TimeSpan.Zero;
        if (_timer is not null && _timerKeepsAlive == keepAlive)
        {
            return;
        }

        _timer?.Dispose();
        _timerKeepsAlive = keepAlive;
        _timer = this.RegisterGrainTimer(OnFeedbackTick, new GrainTimerCreationOptions(_period, _period) { Interleave = false, KeepAlive = keepAlive });
    }

    private async Task OnFeedbackTick(CancellationToken cancellationToken)
    {
        if (_presence == Presence.Displaced)
        {
            return;
        }

        if (Deleting)
        {
            await OnDeletingTick();
            return;
        }

        if (State.Role == KblRole.Leaf)
        {
            // Rates over the time that really passed: a tick delayed by a long turn must not inflate them.
            var now = time.GetUtcNow();
            _meter.Tick(_lastTick is { } last && now > last ? now - last : _period);
            _lastTick = now;
            _unsplittable = false;
        }

        var feedback = OwnFeedback();
        RefreshSiloView();
        if (!IsRoot && State.Role is KblRole.Leaf or KblRole.Interior or KblRole.Retired)
        {
            // A retired child reports too (nothing): a parent whose merge a crash interrupted is woken by it and
            // finishes the merge, rather than leave the child retired until a request happens to walk by.
            _ = Parent().ReportFeedback(_path, feedback);
        }
        else if (IsRoot && State.Role is KblRole.Leaf or KblRole.Interior)
        {
            ReportDemand(feedback);
        }

        if (!await TryCompleteTransition())
        {
            return;
        }

        await MaintainReplicas();
        if (_presence != Presence.AtHome)
        {
            return; // it handed its shard to a copy in its new node group
        }

        if (State.Role == KblRole.Leaf && IdleLongEnough)
        {
            await HibernateWhenIdle();
            return;
        }

        if (State.Role == KblRole.Interior && !IsRoot && feedback.Asleep)
        {
            DeactivateOnIdle(); // its whole subtree sleeps: nothing calls it until a request wakes a leaf below
            return;
        }

        if (OutgrewSize || OutgrewLoad)
        {
            await DivideWhenOutgrown(byLoad: !OutgrewSize);
        }
        else if (State.Role == KblRole.Interior && State.Children.Count > MaxFanOut)
        {
            await DivideWhenOutgrown(byLoad: false);
        }
        else if (State.Role == KblRole.Interior)
        {
            await ConsiderMerge(feedback);
        }
    }
}
