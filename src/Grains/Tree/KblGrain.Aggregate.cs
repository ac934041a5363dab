using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tree;

// Subtree operations, self-similar: a leaf aggregates over its own records, an interior KBL combines its
// children's partial results; the tree view is built the same way.
public sealed partial class KblGrain
{
    public async Task<AggregatePartial> Aggregate(AggregateQuery query, CancellationToken cancellationToken)
    {
        if (Deleting)
        {
            return AggregatePartial.Empty with { Status = KblStatus.NoColony, Message = $"colony '{_colony}' is being deleted" };
        }

        if (_presence == Presence.Displaced)
        {
            return AggregatePartial.Empty with { Status = KblStatus.Unavailable, Message = Refuse(query.From)!.Message };
        }

        if (_presence == Presence.Relocated)
        {
            return AggregatePartial.Empty with { Status = KblStatus.Moved }; // its records are on its new silo now: ask it there
        }

        switch (State.Role)
        {
            case KblRole.Leaf when await WakeIfAsleep() is { } asleep:
                return AggregatePartial.Empty with { Status = asleep.Status, Message = asleep.Message };
            case KblRole.Leaf:
                // One page per turn: the writes queued for this leaf go in between pages, and a cancelled query
                // stops at the next one (its caller asks for no more).
                _meter.Touch(time.GetUtcNow());
                metrics.AggregatePage(_colony);
                var from = KeyOrder.Compare(query.From, State.Range.Lo) > 0 ? query.From : State.Range.Lo;
                var to = State.Range.Hi is null || (query.To is not null && KeyOrder.Compare(query.To, State.Range.Hi) < 0) ? query.To : State.Range.Hi;
                var page = new PageBounds(options.Value.AggregatePageRecords, PageBounds.TransferBytes);
                return to is not null && KeyOrder.Compare(from, to) >= 0
                    ? AggregatePartial.Empty with { Leaves = 1 }
                    : AggregateEvaluator.Evaluate(store.Scan(_colony, from, exclusive: false, to), query, page, cancellationToken);
            case KblRole.Interior:
                // The subtree keeps its shape meanwhile: its divisions and merges wait for this turn.
                return await AggregateChildren(query, cancellationToken);
            case KblRole.None when IsRoot:
                return AggregatePartial.Empty with { Status = KblStatus.NoColony, Message = $"colony '{_colony}' does not exist" };
            default:
                return AggregatePartial.Empty with { Status = KblStatus.Moved };
        }
    }

    /// <summary>
    /// Each child's whole partial, page by page, the children in parallel — but those that hibernate (by their last
    /// report) a few at a time: each wakes for it, reading its snapshot and ingesting it.
    /// </summary>
    private async Task<AggregatePartial> AggregateChildren(AggregateQuery query, CancellationToken cancellationToken)
    {
        using var wakes = new SemaphoreSlim(WakesAtOnce);
        var parts = await Task.WhenAll(State.Children
            .Where(c => c.Range.Overlaps(query.From, query.To))
            .Select(c => Waking(
                _childFeedback.TryGetValue(c.Path, out var report) && report.Feedback.Hibernated > 0 ? wakes : null,
                () => AggregatePages.Collect(Kbl<IKblGrain>(c.Path).Aggregate, query, cancellationToken),
                cancellationToken)));
        return parts.Aggregate(AggregatePartial.Empty, (a, b) => a.Combine(b));
    }

    public async Task<KblView> GetTree(int levels, bool hotPath)
    {
        if (Deleting)
        {
            return View(Feedback.Empty, []) with { Role = KblRole.None }; // the gateway answers as for no colony
        }

        if (State.Role != KblRole.Interior)
        {
            if (Hibernating)
            {
                DeactivateOnIdle(); // read from its stored state: reading the tree wakes nothing
            }
            else if (_presence == Presence.Displaced && State.Role != KblRole.Retired)
            {
                // Made away from its records (a caller's stale route, its home and copies down): it goes where it can
                // serve once it can — home, or where a copy takes over — as a request for a record would make it
                // (where neither is up it stays, as before: a tree read does not make it churn); this answer is its stored state.
                _ = MigrateWhereItServes();
            }

            return View(OwnFeedback(), []);
        }

        if (levels <= 0 && !hotPath)
        {
            return View(Rollup(), [], collapsed: true);
        }

        // Below the level limit only the busiest child is expanded (the hot path); the others stand for their
        // subtrees with their last reports, and no call reaches them.
        var reports = ChildReports().ToDictionary(r => r.Path, r => r.Feedback);
        var hottest = levels > 0 ? null : State.Children.MaxBy(c => reports.TryGetValue(c.Path, out var f) ? (f.OpsPerSecond, f.Keys) : (-1, -1))?.Path;
        var children = await Task.WhenAll(State.Children.Select(c => levels > 0 || c.Path == hottest
            ? Kbl<IKblGrain>(c.Path).GetTree(levels - 1, hotPath)
            : Task.FromResult(Stub(c, reports.GetValueOrDefault(c.Path) ?? Feedback.Empty))));
        var rollup = children.Aggregate(Feedback.Empty, (sum, c) => sum.Add(c.Feedback));
        return View(rollup with { Depth = rollup.Depth + 1 }, children);
    }

    private KblView View(Feedback feedback, IReadOnlyList<KblView> children, bool collapsed = false) =>
        new(_id, _path, State.Range, State.Role, State.Epoch, Hibernating ? "" : _presence == Presence.Displaced ? State.Home ?? "" : silo.Name, State.Genome.NodeGroup, feedback, children, collapsed, ReplicasView(),
            State.Hibernation is { } sleep ? new HibernationView(sleep.Since, sleep.Records, sleep.Bytes) : null);

    /// <summary>A child not visited, from its last report: a leaf, or a collapsed interior KBL.</summary>
    private KblView Stub(ChildRef child, Feedback report) => new(
        ColonyNames.KblId(_colony, child.Path), child.Path, child.Range, report.Depth == 0 ? KblRole.Leaf : KblRole.Interior,
        0, "", State.Genome.NodeGroup, report, [], Collapsed: report.Depth > 0);
}
