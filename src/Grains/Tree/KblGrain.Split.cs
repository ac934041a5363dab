using Kbl.Colonies;
using Kbl.Placement;
using Kbl.Records;
using Orleans.Runtime.Placement;

namespace Kbl.Tree;

// Split: a leaf over its thresholds divides into children. The parent's side (plan, persist the transition,
// birth, import, commit, become interior) and the child's side (Birth, Import, Commit), idempotent by generation.
public sealed partial class KblGrain
{
    /// <summary>Set when the shard cannot be divided (one key, or all load on one key); cleared on the next tick.</summary>
    private bool _unsplittable;

    private bool _splitByLoad;

    private async Task Split(bool byLoad)
    {
        var items = byLoad
            ? SplitPlanner.CountAccesses(_meter.SampledKeys().Where(k => State.Range.Contains(k)))
            : store.Scan(_colony, State.Range.Lo, exclusive: false, State.Range.Hi).Select(r => (r.Key, (long)(r.Key.Length + r.Value.Length)));
        var boundaries = SplitPlanner.ChooseBoundaries(items, State.Genome.FanOut, State.Range);
        if (boundaries.Count == 0)
        {
            _unsplittable = true;
            return;
        }

        var children = State.Range.SplitAt(boundaries).Select((range, i) => new ChildRef(ColonyNames.ChildPath(_path, i), range)).ToList();
        _splitByLoad = byLoad;
        State.Epoch++;
        State.Transition = new Transition(TransitionKind.Split, State.Epoch, children);
        await Save();
        KblLog.Splitting(logger, _id, children.Count, byLoad ? "load" : "size", _keys, _bytes);
        metrics.Split(_colony, byLoad);
        await CompleteSplit();
    }

    /// <summary>Gives birth to the children, hands each its records, commits them, then becomes interior. Idempotent.</summary>
    private async Task CompleteSplit()
    {
        var transition = State.Transition!;
        var births = new List<(ChildRef Child, BirthReply Reply)>();
        var homes = ChildHomes(transition);
        RequestContext.Set(KblPlacementDirector.NodeGroupKey, State.Genome.NodeGroup);
        try
        {
            for (var i = 0; i < transition.Children.Count; i++)
            {
                var child = transition.Children[i];
                if (homes[i] is { } hint)
                {
                    RequestContext.Set(IPlacementDirector.PlacementHintKey, hint);
                }
                else
                {
                    RequestContext.Remove(IPlacementDirector.PlacementHintKey);
                }

                var reply = await Child(child.Path).Birth(new ChildBirth(child.Range, State.Genome, State.Depth + 1, transition.Generation, _clock, silo.Name));
                births.Add((child, reply));
            }
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            RequestContext.Remove(KblPlacementDirector.NodeGroupKey);
        }

        foreach (var (child, reply) in births.Where(b => !b.Reply.Committed && b.Reply.Silo != silo.Name))
        {
            foreach (var batch in store.Scan(_colony, child.Range.Lo, exclusive: false, child.Range.Hi).Chunk(TransferBatch))
            {
                await Child(child.Path).Import(batch);
            }
        }

        foreach (var (child, _) in births)
        {
            await Child(child.Path).Commit(transition.Generation);
        }

        State.Role = KblRole.Interior;
        State.Children = [.. transition.Children];
        State.Transition = null;
        State.ShapeChangedAt = time.GetUtcNow();
        await Save();
        store.WriteClock(_id, _clock);
        foreach (var (child, _) in births.Where(b => b.Reply.Silo != silo.Name))
        {
            store.DeleteRange(_colony, child.Range);
        }

        _keys = _bytes = 0;
        _meter.Reset();
        _childFeedback.Clear();
        _coldSince = null;
        KblLog.Split(logger, _id, State.Epoch, string.Join(", ", State.Children.Select(c => $"{c.Path} {c.Range}")));
    }

    /// <summary>
    /// Where each child of a split should live: a size split keeps them here (their records are already on this
    /// disk); a load split spreads them over the group's silos, least loaded first, so the load spreads too.
    /// </summary>
    private SiloAddress?[] ChildHomes(Transition transition)
    {
        var homes = new SiloAddress?[transition.Children.Count];
        var group = load.SilosOfGroup(State.Genome.NodeGroup);
        if (transition.Kind == TransitionKind.Split && _splitByLoad && group.Count > 1)
        {
            // Round-robin over the group's silos, least loaded first: the hot range lands on as many silos as it can.
            var ordered = group.OrderBy(s => load.LoadOf(s).KblActivations).ThenBy(s => s, StringComparer.Ordinal).ToList();
            for (var i = 0; i < homes.Length; i++)
            {
                homes[i] = load.AddressOf(ordered[i % ordered.Count]);
            }
        }
        else if (silo.NodeGroup == State.Genome.NodeGroup)
        {
            Array.Fill(homes, localSilo.SiloAddress);
        }

        return homes;
    }

    public async Task<BirthReply> Birth(ChildBirth birth)
    {
        if (birth.Generation == State.Generation && State.Role is KblRole.Leaf or KblRole.Interior)
        {
            return new BirthReply(silo.Name, Committed: true);
        }

        if (birth.Generation < State.Generation)
        {
            throw new InvalidOperationException($"KBL {_id} is at generation {State.Generation}; a birth of generation {birth.Generation} is stale.");
        }

        if (birth.Generation > State.Generation || State.Role != KblRole.Pending)
        {
            State.Role = KblRole.Pending;
            State.Range = birth.Range;
            State.Genome = birth.Genome;
            State.Depth = birth.Depth;
            State.Generation = birth.Generation;
            State.Children = [];
            State.Transition = null;
            State.BirthClock = birth.Clock;
            State.Home = silo.Name;
            State.Epoch++;
            State.ShapeChangedAt = time.GetUtcNow();
            await Save();
            if (_presence == Presence.Displaced)
            {
                _presence = Presence.AtHome; // born here: this silo holds its records now
            }

            if (birth.ParentSilo != silo.Name)
            {
                // Records arrive from the parent's silo: clear whatever an earlier, unfinished life left here.
                store.DeleteRange(_colony, birth.Range);
            }
        }

        _clock = Math.Max(_clock, birth.Clock);
        return new BirthReply(silo.Name, Committed: false);
    }

    public Task Import(IReadOnlyList<StoredRecord> records)
    {
        if (State.Role != KblRole.Pending)
        {
            throw new InvalidOperationException($"KBL {_id} is {State.Role}; only a KBL being born imports records.");
        }

        store.Import(_colony, records);
        return Task.CompletedTask;
    }

    /// <summary>Makes a newborn child (or, when a merge is called off, a retired one) a serving leaf.</summary>
    public async Task Commit(long generation)
    {
        if (State.Generation != generation || State.Role is not (KblRole.Pending or KblRole.Retired))
        {
            return;
        }

        State.Role = KblRole.Leaf;
        await Save();
        LoadShard();
        store.WriteClock(_id, _clock);
        StartTimer();
    }
}
