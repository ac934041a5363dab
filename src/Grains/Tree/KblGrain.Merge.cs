using Kbl.Records;

namespace Kbl.Tree;

// Merge: an interior KBL whose children are all cold leaves takes their records back and becomes a leaf. The
// parent's side (decide, persist the transition, retire, export, purge) and the child's side (Retire, Export,
// Purge), idempotent by generation. A child that cannot retire calls the merge off.
public sealed partial class KblGrain
{
    /// <summary>Since when the children have been under every merge threshold (null: they are not).</summary>
    private DateTimeOffset? _coldSince;

    private async Task ConsiderMerge(Feedback rollup)
    {
        if (State.Transition is not null)
        {
            return;
        }

        var now = time.GetUtcNow();
        var g = State.Genome;
        var allLeaves = State.Children.All(c => _childFeedback.TryGetValue(c.Path, out var r) && r.Feedback.Depth == 0);
        var cold = allLeaves && rollup.Keys < g.MergeKeys && rollup.Bytes < g.MergeBytes && rollup.OpsPerSecond < g.MergeOpsPerSecond;
        if (!cold)
        {
            _coldSince = null;
            return;
        }

        _coldSince ??= now;
        if (now - _coldSince < g.Hysteresis || now - State.ShapeChangedAt < g.Hysteresis)
        {
            return;
        }

        State.Epoch++;
        State.Transition = new Transition(TransitionKind.Merge, State.Epoch, State.Children);
        await Save();
        KblLog.Merging(logger, _id, State.Children.Count, rollup.Keys, rollup.Bytes, rollup.OpsPerSecond);
        metrics.Merge(_colony);
        await CompleteMerge();
    }

    /// <summary>Retires the children, takes over their records, then becomes a leaf again. Idempotent.</summary>
    private async Task CompleteMerge()
    {
        var transition = State.Transition!;
        var replies = new List<(ChildRef Child, RetireReply Reply)>();
        foreach (var child in transition.Children)
        {
            replies.Add((child, await Child(child.Path).Retire(transition.Generation)));
        }

        if (replies.Any(r => !r.Reply.Retired))
        {
            // A child divided since it last reported: call the merge off and revive the ones that retired.
            foreach (var (child, _) in replies.Where(r => r.Reply.Retired))
            {
                await Child(child.Path).Commit(transition.Generation);
            }

            State.Transition = null;
            await Save();
            return;
        }

        _clock = Math.Max(Math.Max(_clock, store.ReadClock(_id)), replies.Max(r => r.Reply.Clock));
        foreach (var (child, _) in replies.Where(r => r.Reply.Silo != silo.Name))
        {
            var from = child.Range.Lo;
            var exclusive = false;
            while (true)
            {
                var page = await Child(child.Path).Export(from, exclusive, PageBounds.Transfer.Records);
                if (page.Count == 0)
                {
                    break;
                }

                store.Import(_colony, page);
                (from, exclusive) = (page[^1].Key, true);
            }

            await Child(child.Path).Purge(transition.Generation);
        }

        store.WriteClock(_id, _clock);
        State.Role = KblRole.Leaf;
        State.Children = [];
        State.LastDivision = null;
        State.Transition = null;
        State.ShapeChangedAt = time.GetUtcNow();
        await Save();
        LoadShard();
        _meter.Reset();
        _childFeedback.Clear();
        _coldSince = null;
        KblLog.Merged(logger, _id, State.Epoch, _keys);
    }

    public async Task<RetireReply> Retire(long generation)
    {
        if (State.Role == KblRole.Retired && State.Generation == generation)
        {
            return new RetireReply(true, silo.Name, _clock);
        }

        if (State.Role != KblRole.Leaf || _presence == Presence.Displaced)
        {
            return new RetireReply(false, silo.Name, _clock);
        }

        store.WriteClock(_id, _clock);
        State.Role = KblRole.Retired;
        State.Generation = generation;
        await Save();
        return new RetireReply(true, silo.Name, _clock);
    }

    public Task<IReadOnlyList<StoredRecord>> Export(byte[] from, bool exclusive, int limit)
    {
        if (State.Role != KblRole.Retired)
        {
            throw new InvalidOperationException($"KBL {_id} is {State.Role}; only a retired KBL hands over its records.");
        }

        // Bounded by bytes too: a page of large values stays well under Orleans' message limit.
        IReadOnlyList<StoredRecord> page = new PageBounds(limit, PageBounds.TransferBytes).Take(store.Scan(_colony, from, exclusive, State.Range.Hi)).Records;
        return Task.FromResult(page);
    }

    public Task Purge(long generation)
    {
        if (State.Role == KblRole.Retired && State.Generation == generation)
        {
            store.DeleteRange(_colony, State.Range);
            DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }
}
