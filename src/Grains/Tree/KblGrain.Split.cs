using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Provisioning;
using Kbl.Records;
using Orleans.Runtime.Placement;
using Orleans.Storage;

namespace Kbl.Tree;

// Division, as in a B-tree: a KBL that outgrows its genome asks its parent (one-way); the parent, in its own turn,
// names new siblings and orders the child to divide (Divide); the child keeps the first piece of its range and hands
// the others — records for a leaf, children for an interior KBL — to the siblings, which join the parent. A parent
// over its maximum fan-out divides the same way, one level up. Only the root grows a level: a root leaf splits into
// children under itself (Split), a full root interior KBL hands its children to two new children (PushDown). Every
// step is persisted first and idempotent by generation, so any activation can finish a division a crash interrupted.
public sealed partial class KblGrain
{
    /// <summary>Set when the shard cannot be divided (one key, or all load on one key); cleared on the next tick.</summary>
    private bool _unsplittable;

    /// <summary>When this KBL last asked its parent to divide it (asked again, at most once a period, while it still must).</summary>
    private DateTimeOffset? _divisionAskedAt;

    /// <summary>The most children an interior KBL has before it divides: twice the genome's fan-out.</summary>
    private int MaxFanOut => 2 * State.Genome.FanOut;

    /// <summary>The parent's path: recorded since this version; for earlier KBLs, their path's prefix.</summary>
    private string ParentPath => State.Parent ?? _path[.._path.LastIndexOf('.')];

    private bool OutgrewSize => State.Role == KblRole.Leaf && !_unsplittable && (_keys > State.Genome.SplitKeys || _bytes > State.Genome.SplitBytes);

    /// <summary>
    /// A leaf over its genome's operations per second divides by load — when its node group has another silo up to
    /// spread the hot range over (<see cref="Homes"/>), or when its group is held at one node and only a hot subtree's
    /// group of its own can relieve it (<see cref="ProvisioningPolicy.DedicationRelievesOneNode"/>). Otherwise, alone on its
    /// group's one silo, a load division adds no capacity: it only cuts the leaf's group commit into smaller ones (one
    /// leaf took 1.34× the puts of the same records in thirteen leaves, same silo, interleaved rounds:
    /// docs/benchmarks.md). It divides once a second silo joins.
    /// </summary>
    private bool OutgrewLoad =>
        State.Role == KblRole.Leaf && _meter.OpsPerSecond > State.Genome.SplitOpsPerSecond &&
        (load.SilosOfGroup(State.Genome.NodeGroup).Count > 1 || ProvisioningPolicy.DedicationRelievesOneNode(provisioning.Value));

    /// <summary>A leaf over its size or load thresholds, or an interior KBL over its maximum fan-out, divides.</summary>
    private async Task DivideWhenOutgrown(bool byLoad)
    {
        if (State.Transition is not null || _presence != Presence.AtHome)
        {
            return;
        }

        if (IsRoot)
        {
            try
            {
                if (State.Role == KblRole.Leaf)
                {
                    await Split(byLoad);
                }
                else if (State.Role == KblRole.Interior && State.Children.Count > MaxFanOut)
                {
                    await PushDown();
                }
            }
            catch (Exception e) when (IsStepFailure(e) && e is not InconsistentStateException && State.Transition is { } pending)
            {
                // Persisted before its first step: the tick finishes it. The write that set it off was applied and
                // is acknowledged; requests wait (Unavailable) until the division is done.
                KblLog.TransitionPending(logger, e, _id, pending.Kind);
            }

            return;
        }

        var now = time.GetUtcNow();
        if (_divisionAskedAt is { } asked && now - asked < _period)
        {
            return;
        }

        _divisionAskedAt = now;
        _ = Parent().RequestDivision(_path, byLoad, PiecesWanted(byLoad));
    }

    /// <summary>
    /// How many pieces this KBL asks to divide into: the genome's fan-out, or — for a leaf that grew far past its
    /// size thresholds before it could divide — enough that each piece is at most half a threshold (up to the
    /// maximum fan-out), so ascending keys arriving fast cannot outrun the division.
    /// </summary>
    private int PiecesWanted(bool byLoad)
    {
        if (State.Role != KblRole.Leaf || byLoad)
        {
            return State.Genome.FanOut;
        }

        var over = Math.Max((double)_keys / Math.Max(1, State.Genome.SplitKeys), (double)_bytes / Math.Max(1, State.Genome.SplitBytes));
        return (int)Math.Clamp(Math.Ceiling(2 * over), State.Genome.FanOut, MaxFanOut);
    }

    // ---------------- the parent's side ----------------

    public async Task RequestDivision(string childPath, bool byLoad, int pieces)
    {
        if (State.Role != KblRole.Interior || State.Transition is not null || _presence != Presence.AtHome ||
            !State.Children.Any(c => c.Path == childPath))
        {
            return; // not (or no longer) this KBL's child, or busy: the child asks again if it still must
        }

        State.Epoch++;
        var count = Math.Clamp(pieces, State.Genome.FanOut, MaxFanOut) - 1;
        var siblings = Enumerable.Range(State.NextChildIndex(_path), count).Select(i => ColonyNames.ChildPath(_path, i)).ToList();
        State.NextChild = State.NextChildIndex(_path) + siblings.Count;
        State.Transition = new Transition(TransitionKind.Divide, State.Epoch, []) { Child = childPath, Siblings = siblings, ByLoad = byLoad };
        await Save();
        await CompleteDivide();
    }

    /// <summary>Orders the child to divide and puts the pieces it reports in its place. Idempotent.</summary>
    private async Task CompleteDivide()
    {
        var transition = State.Transition!;
        var pieces = await Child(transition.Child!).Divide(new DivisionOrder(transition.Generation, transition.Siblings, transition.ByLoad));
        var index = State.Children.FindIndex(c => c.Path == transition.Child);
        if (index >= 0 && pieces.Count > 1)
        {
            var entry = State.Children[index];
            if (!Tiles(entry.Range, pieces))
            {
                throw new InvalidOperationException($"KBL {_id}: child {entry.Path} {entry.Range} divided into pieces that do not tile its range: {string.Join(", ", pieces.Select(p => $"{p.Path} {p.Range}"))}");
            }

            State.Children = [.. State.Children.Take(index), .. pieces, .. State.Children.Skip(index + 1)];
            _childFeedback.Remove(transition.Child!); // its last report counts the keys its new siblings now report
            State.ShapeChangedAt = time.GetUtcNow();
            metrics.Split(_colony, transition.ByLoad);
            KblLog.Divided(logger, _id, transition.Child!, string.Join(", ", pieces.Select(p => $"{p.Path} {p.Range}")));
        }

        State.Transition = null;
        await Save();
        if (State.Children.Count > MaxFanOut)
        {
            await DivideWhenOutgrown(byLoad: false);
        }
    }

    // ---------------- the dividing KBL's side ----------------

    public async Task<IReadOnlyList<ChildRef>> Divide(DivisionOrder order)
    {
        if (State.LastDivision is { } done && Answers(done.Generation, done.Pieces, order))
        {
            return done.Pieces;
        }

        if (Deleting)
        {
            return [new ChildRef(_path, State.Range)]; // its colony is being deleted: it divides no more
        }

        if (_presence != Presence.AtHome)
        {
            throw new InvalidOperationException($"KBL {_id} is not on the silo that holds it ({State.Home}); it divides once it is home");
        }

        if (State.Transition is { Kind: TransitionKind.Handoff } pending && Answers(pending.Generation, pending.Children, order))
        {
            await CompleteHandoff();
            return State.LastDivision!.Pieces;
        }

        if (State.Transition is not null)
        {
            await CompleteTransition(); // an older change of this KBL's own comes first
        }

        // Only while it still must: a request can be stale (asked twice, or already divided by an earlier order).
        var self = new ChildRef(_path, State.Range);
        var (pieces, groups) = State.Role switch
        {
            KblRole.Leaf when StillOutgrown(order.ByLoad) => PlanLeafPieces(order),
            KblRole.Interior when State.Children.Count > MaxFanOut => PlanInteriorPieces(order),
            _ => ([self], []),
        };
        if (pieces.Count < 2)
        {
            _unsplittable = State.Role == KblRole.Leaf && StillOutgrown(order.ByLoad);
            return [self];
        }

        State.Transition = new Transition(TransitionKind.Handoff, order.Generation, pieces) { ByLoad = order.ByLoad, Groups = groups };
        await Save();
        KblLog.Splitting(logger, _id, pieces.Count, order.ByLoad ? "load" : State.Role == KblRole.Leaf ? "size" : "fan-out", _keys, _bytes);
        await CompleteHandoff();
        return State.LastDivision!.Pieces;
    }

    /// <summary>
    /// Whether a division (done or under way) is the one <paramref name="order"/> asks for again: same generation
    /// and siblings named by the order (a generation alone is one parent's epoch; this KBL may have had another parent).
    /// </summary>
    private static bool Answers(long generation, IReadOnlyList<ChildRef> pieces, DivisionOrder order) =>
        generation == order.Generation && pieces.Skip(1).All(p => order.Siblings.Contains(p.Path));

    private bool StillOutgrown(bool byLoad) => byLoad ? OutgrewLoad : OutgrewSize;

    /// <summary>A leaf's pieces: boundaries from its records (by bytes) or its sampled accesses (by load); this KBL keeps the first.</summary>
    private (List<ChildRef> Pieces, List<IReadOnlyList<ChildRef>> Groups) PlanLeafPieces(DivisionOrder order)
    {
        var boundaries = SplitPlanner.ChooseBoundaries(ShardWeights(order.ByLoad), order.Siblings.Count + 1, State.Range);
        var ranges = State.Range.SplitAt(boundaries);
        return ([.. ranges.Select((range, i) => new ChildRef(i == 0 ? _path : order.Siblings[i - 1], range))], []);
    }

    /// <summary>An interior KBL's pieces: its children in two halves; this KBL keeps the first, one new sibling takes the second.</summary>
    private (List<ChildRef> Pieces, List<IReadOnlyList<ChildRef>> Groups) PlanInteriorPieces(DivisionOrder order)
    {
        var half = State.Children.Count / 2;
        var (first, second) = (State.Children.Take(half).ToList(), State.Children.Skip(half).ToList());
        return (
            [new ChildRef(_path, new KeyRange(State.Range.Lo, second[0].Range.Lo)), new ChildRef(order.Siblings[0], new KeyRange(second[0].Range.Lo, State.Range.Hi))],
            [first, second]);
    }

    private IEnumerable<(byte[] Key, long Weight)> ShardWeights(bool byLoad) => byLoad
        ? SplitPlanner.CountAccesses(_meter.SampledKeys().Where(k => State.Range.Contains(k)))
        : store.Scan(_colony, State.Range.Lo, exclusive: false, State.Range.Hi).Select(r => (r.Key, (long)(r.Key.Length + r.Value.Length)));

    /// <summary>
    /// Gives birth to the new siblings, hands them their records (a leaf, for siblings on other silos) or their
    /// children (an interior KBL: each learns its new parent), commits them, then narrows to the first piece.
    /// Within this turn no request is served, so none sees half a division. Idempotent.
    /// </summary>
    private async Task CompleteHandoff()
    {
        var transition = State.Transition!;
        var pieces = transition.Children;
        var interior = transition.Groups.Count > 0;
        var arrivals = store.ArrivalMark(); // before any new sibling serves (and could be moved here)
        var born = await GiveBirth(transition, pieces.Skip(1).ToList(), ParentPath, interior ? transition.Groups.Skip(1).ToList() : null);
        if (interior)
        {
            for (var i = 1; i < pieces.Count; i++)
            {
                foreach (var child in transition.Groups[i])
                {
                    await Child(child.Path).SetParent(_path, pieces[i].Path);
                    _childFeedback.Remove(child.Path);
                }
            }
        }

        foreach (var (piece, _) in born)
        {
            await Child(piece.Path).Commit(transition.Generation);
        }

        State.Range = pieces[0].Range;
        if (interior)
        {
            State.Children = [.. transition.Groups[0]];
        }

        State.LastDivision = new Division(transition.Generation, pieces);
        State.Transition = null;
        State.ShapeChangedAt = time.GetUtcNow();
        await Save();
        if (!interior)
        {
            store.WriteClock(_id, _clock);
            DropRangesBornElsewhere(born, arrivals);

            LoadShard();
            _meter.Reset();
        }

        _coldSince = null;
        KblLog.Split(logger, _id, State.Epoch, string.Join(", ", pieces.Select(c => $"{c.Path} {c.Range}")));
    }

    // ---------------- the root grows a level ----------------

    /// <summary>The root, a leaf, divides into children under itself and becomes interior.</summary>
    private async Task Split(bool byLoad)
    {
        var boundaries = SplitPlanner.ChooseBoundaries(ShardWeights(byLoad), State.Genome.FanOut, State.Range);
        if (boundaries.Count == 0)
        {
            _unsplittable = true;
            return;
        }

        var first = State.NextChildIndex(_path);
        var children = State.Range.SplitAt(boundaries).Select((range, i) => new ChildRef(ColonyNames.ChildPath(_path, first + i), range)).ToList();
        State.NextChild = first + children.Count;
        State.Epoch++;
        State.Transition = new Transition(TransitionKind.Split, State.Epoch, children) { ByLoad = byLoad };
        await Save();
        KblLog.Splitting(logger, _id, children.Count, byLoad ? "load" : "size", _keys, _bytes);
        metrics.Split(_colony, byLoad);
        await CompleteSplit();
    }

    /// <summary>Gives birth to the children, hands each its records, commits them, then becomes interior. Idempotent.</summary>
    private async Task CompleteSplit()
    {
        var transition = State.Transition!;
        var arrivals = store.ArrivalMark(); // before any child serves (and could be moved here)
        var born = await GiveBirth(transition, transition.Children, _path, groups: null);
        foreach (var (child, _) in born)
        {
            await Child(child.Path).Commit(transition.Generation);
        }

        State.Role = KblRole.Interior;
        State.Children = [.. transition.Children];
        State.Transition = null;
        State.ShapeChangedAt = time.GetUtcNow();
        var copies = State.Replicas;
        ForgetCopies();
        await Save();
        DropCopies(copies); // its leaves forked theirs from them already
        store.WriteClock(_id, _clock);
        DropRangesBornElsewhere(born, arrivals);

        _keys = _bytes = 0;
        _meter.Reset();
        _childFeedback.Clear();
        _coldSince = null;
        KblLog.Split(logger, _id, State.Epoch, string.Join(", ", State.Children.Select(c => $"{c.Path} {c.Range}")));
    }

    /// <summary>
    /// Once a division's new KBLs serve, drops this disk's copy of the ranges those born on other silos took over —
    /// unless one was taken over here since <paramref name="arrivals"/> (a new KBL moved here after it served).
    /// </summary>
    private void DropRangesBornElsewhere(IEnumerable<(ChildRef Kbl, string Silo)> born, long arrivals)
    {
        foreach (var (kbl, _) in born.Where(b => b.Silo != silo.Name))
        {
            if (!store.DeleteRangeUnlessArrived(_colony, kbl.Range, arrivals))
            {
                KblLog.DropSkipped(logger, _id, kbl.Range.ToString());
            }
        }
    }

    /// <summary>The root, an interior KBL over its maximum fan-out, hands its children in two halves to two new children.</summary>
    private async Task PushDown()
    {
        var half = State.Children.Count / 2;
        var groups = new List<IReadOnlyList<ChildRef>> { State.Children.Take(half).ToList(), State.Children.Skip(half).ToList() };
        var first = State.NextChildIndex(_path);
        var children = groups.Select((g, i) => new ChildRef(ColonyNames.ChildPath(_path, first + i), new KeyRange(g[0].Range.Lo, g[^1].Range.Hi))).ToList();
        State.NextChild = first + children.Count;
        State.Epoch++;
        State.Transition = new Transition(TransitionKind.PushDown, State.Epoch, children) { Groups = groups };
        await Save();
        KblLog.Splitting(logger, _id, children.Count, "fan-out", 0, 0);
        await CompletePushDown();
    }

    private async Task CompletePushDown()
    {
        var transition = State.Transition!;
        var born = await GiveBirth(transition, transition.Children, _path, transition.Groups);
        for (var i = 0; i < transition.Children.Count; i++)
        {
            foreach (var grandchild in transition.Groups[i])
            {
                await Child(grandchild.Path).SetParent(_path, transition.Children[i].Path);
            }
        }

        foreach (var (child, _) in born)
        {
            await Child(child.Path).Commit(transition.Generation);
        }

        State.Children = [.. transition.Children];
        State.Transition = null;
        State.ShapeChangedAt = time.GetUtcNow();
        await Save();
        _childFeedback.Clear();
        KblLog.Split(logger, _id, State.Epoch, string.Join(", ", State.Children.Select(c => $"{c.Path} {c.Range}")));
    }
}
