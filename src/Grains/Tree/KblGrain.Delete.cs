using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Provisioning;

namespace Kbl.Tree;

// Deleting a colony. The root first persists Transition{Delete} and from then on refuses every request (404, "being
// deleted"), so the delete is decided once and for all before anything is removed. Then the root, in a run beside its
// turns, walks the colony: it marks each KBL (MarkDeleted: the KBL persists the same mark, refuses from then on, and
// names the paths below it — every path it ever gave a child, which covers every KBL ever born, retired and half-born
// ones included, its children and the KBLs an unfinished change of its own named), records every path it found in
// its own mark, then drops them deepest first (DropDeleted: records and grain state). Neither call makes a call of its
// own, so no cycle of named and adopted paths can make KBLs wait for each other. The root goes last: it sweeps the
// colony off every silo's disk, drops its demand from the provisioning plan and frees its name. Every step is
// idempotent; one that fails (a leaf whose records are on a silo that is down) leaves the marks in place, and the
// root's next tick, activation or DELETE carries on from there.
public sealed partial class KblGrain
{
    /// <summary>When the root may try an unfinished delete again (it backs off while a silo stays down).</summary>
    private DateTimeOffset _deleteRetryAt;

    private int _deleteAttempts;

    private Task<bool>? _deleteRun;

    /// <summary>Why the root's last attempt could not finish the delete.</summary>
    private string _deleteBlocker = "";

    /// <summary>Whether this KBL's colony is being deleted: it then refuses every request.</summary>
    private bool Deleting => State.Transition is { Kind: TransitionKind.Delete };

    private IColonyRegistryGrain Registry => GrainFactory.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key);

    public async Task<ColonyDeletion> DeleteColony()
    {
        if (!IsRoot)
        {
            throw new InvalidOperationException("Only a colony's root deletes it.");
        }

        if (!Deleting)
        {
            if (State.Role == KblRole.None)
            {
                // Never created (or deleted already); a name left registered by a create that crashed half-way goes too.
                await Registry.Unregister(_colony);
                return new ColonyDeletion(ColonyDeletionStatus.NoColony, $"colony '{_colony}' does not exist");
            }

            MarkDeleting(State.Incarnation);
            await Save();
            KblLog.ColonyDeleting(logger, _colony);
        }

        return await AwaitDeleteRun()
            ? new ColonyDeletion(ColonyDeletionStatus.Deleted)
            : new ColonyDeletion(ColonyDeletionStatus.Deleting, _deleteBlocker.Length > 0
                ? $"colony '{_colony}' is being deleted; part of it cannot be removed yet: {_deleteBlocker}"
                : $"colony '{_colony}' is being deleted; its KBLs are being torn down");
    }

    /// <summary>
    /// The root's teardown runs beside its turns, not in one: a large colony's teardown takes longer than a grain
    /// call may wait, and meanwhile the root goes on answering "being deleted" (404) at once. One run at a time; the
    /// KBLs it calls make no calls of their own, so it never waits on a turn that waits on it.
    /// </summary>
    private Task<bool> DeleteRun() => _deleteRun is { IsCompleted: false } running ? running : (_deleteRun = TryCompleteDelete());

    /// <summary>Starts or joins the run and waits a little for it, so a small colony's DELETE answers "deleted".</summary>
    private async Task<bool> AwaitDeleteRun()
    {
        var run = DeleteRun();
        await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2), time));
        return run.IsCompletedSuccessfully && run.Result;
    }

    public async Task ResumeDelete()
    {
        if (IsRoot && Deleting)
        {
            await AwaitDeleteRun();
        }
    }

    public async Task<IReadOnlyList<string>> MarkDeleted(long incarnation)
    {
        if (!storage.RecordExists || State.Incarnation != incarnation)
        {
            // A path given out but never born, a KBL cleared already, or one of another life of the colony. It may be
            // asked again, so it stays active until idle rather than deactivate under a caller's feet.
            return [];
        }

        if (!Deleting)
        {
            MarkDeleting(incarnation);
            await Save();
        }

        return Below();
    }

    public async Task DropDeleted(long incarnation)
    {
        if (storage.RecordExists && State.Incarnation == incarnation && Deleting)
        {
            DropOwnRecords();
            await ClearDeleted();
        }
    }

    /// <summary>Every path this KBL ever gave a child, and those its mark names (children, an unfinished change's KBLs).</summary>
    private List<string> Below() =>
        [.. Enumerable.Range(0, State.NextChildIndex(_path)).Select(i => ColonyNames.ChildPath(_path, i))
            .Concat(State.Transition?.Siblings ?? [])
            .Distinct(StringComparer.Ordinal)
            .Where(p => p != _path)];

    /// <summary>The root's unfinished delete, tried again from its tick with a back-off while it keeps failing.</summary>
    private async Task<bool> TryCompleteDelete()
    {
        try
        {
            await CompleteDelete();
            _deleteBlocker = "";
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _deleteBlocker = e.Message;
            _deleteAttempts++;
            _deleteRetryAt = time.GetUtcNow() + TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, Math.Min(_deleteAttempts, 5))));
            KblLog.DeletePending(logger, _colony, e.Message);
            return false;
        }
    }

    /// <summary>The feedback tick of a KBL whose colony is being deleted: no reports; the root carries the delete on.</summary>
    private Task OnDeletingTick()
    {
        if (IsRoot && time.GetUtcNow() >= _deleteRetryAt)
        {
            _ = DeleteRun(); // its failures are its own (TryCompleteDelete logs them and backs off)
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Persisted by the caller: the Delete mark, which also names the KBLs this KBL's last or unfinished change was
    /// making (pieces, new siblings, children it was handing over), since the change will not finish now.
    /// </summary>
    private void MarkDeleting(long incarnation)
    {
        var named = State.Children.Select(c => c.Path).ToList();
        if (State.Transition is { } unfinished)
        {
            named.AddRange(unfinished.Children.Select(c => c.Path));
            named.AddRange(unfinished.Siblings);
            named.AddRange(unfinished.Groups.SelectMany(g => g.Select(c => c.Path)));
            if (unfinished.Child is { } child)
            {
                named.Add(child);
            }
        }

        if (State.LastDivision is { } division)
        {
            named.AddRange(division.Pieces.Select(p => p.Path));
        }

        State.Transition = new Transition(TransitionKind.Delete, incarnation, [])
        {
            Siblings = [.. named.Where(p => p != _path).Distinct(StringComparer.Ordinal)],
        };
    }

    /// <summary>
    /// The root's teardown. Every call it makes is to one KBL that calls no other, so no two KBLs ever wait for each
    /// other however paths were named and adopted: first it marks every KBL reachable from it (breadth first, each
    /// once) and records the whole set in its own mark, so a later attempt finds them all even when some are cleared
    /// already; then it drops them deepest first, goes on past a failure (a silo that is down) and leaves its own mark
    /// in place until every one is gone; last it sweeps the colony off every silo, drops its demand from the plan and
    /// frees its name.
    /// </summary>
    private async Task CompleteDelete()
    {
        var incarnation = State.Transition!.Generation;
        await Registry.MarkDeleting(_colony);

        var order = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal) { _path };
        var queue = new Queue<string>(Below());
        var failures = new List<Exception>();
        while (queue.TryDequeue(out var path))
        {
            if (!seen.Add(path))
            {
                continue;
            }

            order.Add(path);
            try
            {
                foreach (var below in await Child(path).MarkDeleted(incarnation))
                {
                    queue.Enqueue(below);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failures.Add(e);
            }
        }

        var known = State.Transition.Siblings;
        if (order.Except(known, StringComparer.Ordinal).Any())
        {
            State.Transition = State.Transition with { Siblings = [.. known.Union(order, StringComparer.Ordinal)] };
            await Save();
        }

        for (var i = order.Count - 1; i >= 0; i--)
        {
            try
            {
                await Child(order[i]).DropDeleted(incarnation);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failures.Add(e); // the others go all the same; the delete is tried again for this one
            }
        }

        if (failures.Count > 0)
        {
            throw failures[0];
        }

        DropOwnRecords();

        // What no KBL accounts for any more (leftovers of moves, clocks of KBLs gone long ago), on every silo up.
        await Task.WhenAll(load.ActiveSilos().Select(s => GrainFactory.GetGrain<ISiloAgentGrain>(s.Identity.Name).DropColony(_colony)));
        await coldTier.DeletePrefix($"{_colony}/{incarnation}/"); // the snapshots of its hibernated leaves
        await GrainFactory.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key).ForgetColony(_colony, incarnation);
        await Registry.Unregister(_colony);
        await ClearDeleted();
        KblLog.ColonyDeleted(logger, _colony);
    }

    /// <summary>Clears this KBL's grain state: no silo counts it any more; the activation is collected when idle.</summary>
    private async Task ClearDeleted()
    {
        await storage.ClearStateAsync();
        _timer?.Dispose();
        _timer = null;
        (_keys, _bytes) = (0, 0);
        _childFeedback.Clear();
        RefreshSiloView();
    }

    /// <summary>
    /// A leaf (or a leaf being born) drops its shard here, and only here, where its records are: one whose records
    /// are on a silo that is down keeps the delete waiting, or they would outlive the colony on that disk. A retired
    /// KBL drops what may be left of its old shard if it is at home, and never waits (its silo may be gone for good).
    /// </summary>
    private void DropOwnRecords()
    {
        DropPrimary(); // its rebuilds stop (one waiting for a turn would install a copy of a deleted shard later)
        var holdsShard = State.Role == KblRole.Leaf || (State.Role == KblRole.Pending && State.Children.Count == 0);
        if (holdsShard && _presence != Presence.AtHome)
        {
            if (_presence == Presence.Displaced && !MigrateHome())
            {
                DeactivateOnIdle(); // the next attempt activates it afresh, at home once its silo is back
            }

            throw new InvalidOperationException($"KBL {_id} keeps its records on silo '{State.Home}', which is not up; the delete finishes when it is back");
        }

        if ((holdsShard || State.Role == KblRole.Retired) && _presence == Presence.AtHome)
        {
            store.DeleteRange(_colony, State.Range);
        }

        store.DeleteClock(_id);
    }
}
