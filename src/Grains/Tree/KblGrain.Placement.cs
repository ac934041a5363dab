using Kbl.Grains;
using Kbl.Placement;
using Kbl.Records;
using Orleans.Runtime.Placement;

namespace Kbl.Tree;

// Placement: a subtree moves to another node group (Move), a KBL and its records move to another silo
// (Relocate: rebalancing, drains), and an activation that is not with its records migrates home.
public sealed partial class KblGrain
{
    /// <summary>
    /// Moves the subtree: the children first, then this KBL (its genome, then its activation and records). A move
    /// that stops half-way (a KBL that cannot move now) reports an error and leaves this KBL's genome in the old
    /// group, so trying again — the provisioning grain's next period, a colony's genome change sent again — moves
    /// what is left; KBLs already moved stay where they are.
    /// </summary>
    public async Task<MoveResult> Move(string nodeGroup)
    {
        if (State.Role is KblRole.None or KblRole.Retired || Deleting)
        {
            return new MoveResult(false, 0, 0);
        }

        if (load.SilosOfGroup(nodeGroup).Count == 0 && (await load.WaitForGroup(nodeGroup)).Count == 0)
        {
            return new MoveResult(true, 0, 0, $"no silo of node group '{nodeGroup}' is up");
        }

        if (Hibernating && State.Role == KblRole.Leaf)
        {
            // Its records are in the cold tier, on no silo: it wakes in the new group.
            if (State.Genome.NodeGroup != nodeGroup)
            {
                State.Genome = State.Genome with { NodeGroup = nodeGroup };
                await Save();
            }

            return new MoveResult(true, 1, 0);
        }

        if (_presence != Presence.AtHome)
        {
            // An activation away from its home (a stale route): it heads home, and the move is tried again there.
            if (!MigrateHome())
            {
                DeactivateOnIdle();
            }

            return new MoveResult(true, 0, 0, $"KBL {_path} is not on its home silo '{State.Home}' now; try the move again");
        }

        // A division or merge under way changes which KBLs the subtree has: finish it first, so no KBL it creates
        // is born into the old group after the subtree has moved.
        if (State.Transition is { } pending && !await TryCompleteTransition())
        {
            return new MoveResult(true, 0, 0, $"KBL {_path} is in the middle of a {pending.Kind.ToString().ToLowerInvariant()} that cannot finish now; try the move again");
        }

        var (kbls, records, moving) = (0, 0L, 0);
        if (State.Role == KblRole.Interior)
        {
            var children = State.Children.Select(c => MoveChild(c.Path, nodeGroup));
            foreach (var result in await Task.WhenAll(children))
            {
                if (result.Error is not null)
                {
                    return result;
                }

                (kbls, records, moving) = (kbls + result.Kbls, records + result.Records, moving + result.Moving);
            }
        }

        if (State.Genome.NodeGroup != nodeGroup)
        {
            State.Genome = State.Genome with { NodeGroup = nodeGroup };
            await Save();
        }

        if (silo.NodeGroup != nodeGroup && Redundancy.Mirrored && State.Role == KblRole.Leaf)
        {
            // Its copies are built in the new group first, and it hands its shard to one of them once they are in
            // sync (MaintainReplicas): the shard never has fewer copies in sync than now, and no record is copied in
            // this turn.
            _timer?.Change(TimeSpan.Zero, _period);
            return new MoveResult(true, kbls, records, Moving: moving + 1);
        }

        if (silo.NodeGroup != nodeGroup && load.SilosOfGroup(nodeGroup) is { Count: > 0 } targets)
        {
            long moved;
            try
            {
                moved = await RelocateCore(silo.Name, load.PickLeastLoaded(targets));
            }
            catch (Exception e) when (IsStepFailure(e))
            {
                moved = -1; // the target refused (it is stopping) or was lost mid-move: this KBL keeps its records
                if (e is Orleans.Storage.InconsistentStateException)
                {
                    DeactivateOnIdle(); // another activation wrote this KBL's state since: this one is stale
                }
            }

            if (moved < 0)
            {
                return new MoveResult(true, kbls, records, $"KBL {_path} could not leave silo {silo.Name} now; try the move again");
            }

            (kbls, records) = (kbls + 1, records + moved);
        }

        return new MoveResult(true, kbls, records, Moving: moving);
    }

    /// <summary>A child's move; a child that cannot be reached (its silo down, the call lost) makes the move stop with an error.</summary>
    private async Task<MoveResult> MoveChild(string path, string nodeGroup)
    {
        try
        {
            return await Kbl<IKblPlacementGrain>(path).Move(nodeGroup);
        }
        catch (Exception e) when (IsStepFailure(e))
        {
            return new MoveResult(true, 0, 0, $"KBL {path} could not be reached ({e.Message}); try the move again");
        }
    }

    public Task<long> Relocate(string from, string to) => RelocateCore(from, to);

    public Task<long> Evacuate(string from, string[] candidates)
    {
        var up = candidates.Where(c => load.AddressOf(c) is not null).ToList();
        if (up.Count == 0)
        {
            return Task.FromResult(-1L);
        }

        if (!Redundancy.Mirrored || State.Role != KblRole.Leaf || State.Replicas is not { } config)
        {
            return RelocateCore(from, load.PickLeastLoaded(up));
        }

        // A leaf on its way to another node group (a move) goes to a holder there first: the drain ends its move.
        IReadOnlyList<string> onItsWay = silo.NodeGroup != State.Genome.NodeGroup ? load.SilosOfGroup(State.Genome.NodeGroup) : [];
        var holders = onItsWay.Where(InSync).ToList() is { Count: > 0 } there ? there : up.Where(InSync).ToList();
        return holders.Count > 0 ? HandOverOrMove(from, holders, up) : RelocateCore(from, load.PickLeastLoaded(up));

        bool InSync(string s) => config.InSync.Any(m => m.Silo == s);
    }

    /// <summary>
    /// A hand-over to the least loaded holder of an in-sync copy; when it cannot be made now (that copy was just
    /// lost), a move with the records — never from an activation that is no longer the primary.
    /// </summary>
    private async Task<long> HandOverOrMove(string from, List<string> holders, List<string> candidates)
    {
        var handed = await RelocateCore(from, load.PickLeastLoaded(holders));
        return handed == -1 && _presence == Presence.AtHome && State.Home == from
            ? await RelocateCore(from, load.PickLeastLoaded(candidates), mayHandOver: false)
            : handed;
    }

    /// <summary>
    /// Hands this KBL to silo <paramref name="to"/>, makes it the home and deactivates: the next request activates
    /// the KBL on its new home, and requests that queued meanwhile are answered with a walk from the root. A mirrored
    /// leaf whose copy on <paramref name="to"/> is in sync hands its shard over (<see cref="HandsOverTo"/>: that copy
    /// becomes the primary's there, nothing is copied); any other leaf copies its records to the target (which first
    /// drops anything an unfinished move left there) and its replicas are rebuilt from the new primary. The records
    /// here are dropped once the new home is saved.
    /// </summary>
    private async Task<long> RelocateCore(string from, string to, bool mayHandOver = true)
    {
        if (_presence == Presence.Relocated && State.Home == from && from != silo.Name)
        {
            // Just moved to `from`, this activation not yet there: once it is, the KBL can move on from it.
            if (!MigrateHome())
            {
                DeactivateOnIdle();
            }

            return IKblPlacementGrain.OnItsWay;
        }

        if (State.Home != from || from != silo.Name || to == from || _presence != Presence.AtHome ||
            State.Transition is not null || State.Role is not (KblRole.Leaf or KblRole.Interior) || load.AddressOf(to) is null)
        {
            return -1;
        }

        var agent = GrainFactory.GetGrain<ISiloAgentGrain>(to);
        var handOver = mayHandOver ? await HandsOverTo(to) : false;
        if (handOver is null)
        {
            return -1; // its copy there is in sync, but this primary cannot bring it up to date now
        }

        if (handOver == false && State.HasMirror && State.Role == KblRole.Leaf && await ReadFence() is not null)
        {
            // Not (or no longer) the shard's primary: its copy may be stale, and the target's may be the live one. (A
            // leaf switched to one copy forgets its mirror first: the copy it moves is then its only one.)
            return -1;
        }

        // A leaf of one copy that was mirrored: a copy of it the target may still hold as a replica (a member's whose
        // drop is on its way, or was lost) goes first, or the target would keep a replica's position beside the
        // leaf's records (a drain skips a KBL whose copy there is a replica's).
        if (handOver == false && !Redundancy.Mirrored && State.Role == KblRole.Leaf && State.Replicas is { } forgotten && !await DropCopy(to, forgotten.Epoch))
        {
            return -1;
        }

        long moved = 0;
        if (handOver == false && State.Role == KblRole.Leaf)
        {
            await agent.BeginImport(_colony, State.Range);
            foreach (var batch in PageBounds.Transfer.Pages(store.Scan(_colony, State.Range.Lo, exclusive: false, State.Range.Hi)))
            {
                await agent.Import(_colony, batch);
                moved += batch.Count;
            }
        }

        // The target is not stopping (it refuses a KBL it would strand), and knows the KBL's clock: a drain of it that
        // begins now finds the KBL there.
        await agent.EndImport(_id, _clock);
        var before = (State.Home, State.Epoch, State.Replicas);
        State.Home = to;
        State.Epoch++;
        State.Replicas = State.Replicas is not { } replicas ? null
            : !Redundancy.Mirrored && State.Role == KblRole.Leaf ? replicas // its mirror forgotten above: no copy but the one moved
            : handOver == true
                // The copy there becomes the primary's when the KBL activates there (it takes a new epoch and seals the
                // other copies in sync); the copy here is dropped, so this silo is no longer named.
                ? replicas with { Primary = "", PrimaryDisk = "" }
                // The copy moved is the primary's now; the replicas are rebuilt from it (none counts as in sync).
                : replicas with { Primary = to, PrimaryDisk = "", Members = [.. replicas.Members.Where(m => m.Silo != to).Select(m => m with { InSync = false })] };
        DropPrimary();
        try
        {
            await Save();
        }
        catch
        {
            // Saved or not, this activation no longer knows where the KBL lives: the next one reads it.
            (State.Home, State.Epoch, State.Replicas) = before;
            DeactivateOnIdle();
            throw;
        }

        if (State.Role == KblRole.Leaf)
        {
            store.DeleteRange(_colony, State.Range);
        }

        _presence = Presence.Relocated;
        local.Remove(this);
        KblLog.Relocated(logger, _id, from, to, moved);
        metrics.Move(_colony);
        MigrateHome();
        return moved;
    }

    /// <summary>
    /// Whether this KBL's move to <paramref name="to"/> is a hand-over: it is a mirrored leaf and the copy there is
    /// in sync; then this primary first brings every copy in sync up to its whole log (writes it applied but did not
    /// acknowledge included), so the copy there is exactly this one, and gives back their read leases
    /// (<see cref="PrimaryCore.Release"/>), so the next primary need not wait them out. Null when the copy there is
    /// in sync but could not be brought up to date (the member is lost, or this primary was fenced). Once it asked
    /// for the release, this primary serves nothing more in its epoch, whatever comes of the hand-over (a late copy
    /// of a release must not cut short a lease it renewed): if the hand-over stops, the next request starts the
    /// shard again under a new epoch.
    /// </summary>
    private async Task<bool?> HandsOverTo(string to)
    {
        if (!Redundancy.Mirrored || State.Role != KblRole.Leaf || State.Replicas?.InSync.Any(m => m.Silo == to) != true)
        {
            return false;
        }

        if (await EnsurePrimary() is not null)
        {
            return null;
        }

        var released = await _primary!.Release(to);
        DropPrimary();
        return released ? true : null;
    }

    /// <summary>
    /// Moves an activation made away from its records to where it can serve: its home silo when that is up, else a
    /// silo holding an in-sync copy (<see cref="MigrateToCopy"/>). False when neither is up.
    /// </summary>
    private bool MigrateWhereItServes() => (State.Home != silo.Name && MigrateHome()) || MigrateToCopy();

    /// <summary>
    /// Moves this activation to its home silo through Orleans migration (which also repoints the grain
    /// directory, so no caller's stale route re-creates it here). False when the home silo is not up.
    /// </summary>
    private bool MigrateHome() => State.Home is { } home && MigrateTo(home);

    /// <summary>
    /// Moves this activation of a mirrored leaf whose home is down to a silo holding an in-sync copy, where it takes
    /// over (see KblGrain.Replication). A caller's stale route (the silo of an activation that handed the leaf over
    /// or migrated away) would otherwise re-create it here, where it can only refuse, over and over. False when no
    /// such silo is up.
    /// </summary>
    private bool MigrateToCopy() =>
        State.HasMirror && State.Role == KblRole.Leaf && State.Transition is null && State.Home is { } home && load.AddressOf(home) is null &&
        State.Replicas is { } config && config.InSync.All(m => m.Silo != silo.Name) && // a holder here whose takeover failed deactivates and tries again
        config.InSync.Select(m => m.Silo).Where(s => load.AddressOf(s) is not null).ToList() is { Count: > 0 } holders &&
        MigrateTo(load.PickLeastLoaded(holders));

    /// <summary>
    /// Moves this activation to silo <paramref name="target"/> through Orleans migration (which also repoints the
    /// grain directory, so no caller's stale route re-creates it here). False when that silo is not up.
    /// </summary>
    private bool MigrateTo(string target)
    {
        if (load.AddressOf(target) is not { } address)
        {
            return false;
        }

        RequestContext.Set(IPlacementDirector.PlacementHintKey, address);
        try
        {
            MigrateOnIdle();
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }

        return true;
    }
}
