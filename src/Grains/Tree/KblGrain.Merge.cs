using Kbl.Records;
using Orleans.Storage;

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
        // Hibernated children stay as they are: a merge would wake them only to put their records together.
        var allLeaves = State.Children.All(c => _childFeedback.TryGetValue(c.Path, out var r) && r.Feedback.Depth == 0 && r.Feedback.Hibernated == 0);
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

    /// <summary>
    /// Retires the children, takes over their records, then becomes a leaf again. Idempotent: the children whose
    /// records are taken over are recorded in the transition (<see cref="Transition.Siblings"/>) before they are
    /// purged, so a resumed merge neither takes a purged child's empty range over again nor purges one not taken.
    /// </summary>
    private async Task CompleteMerge()
    {
        var transition = State.Transition!;
        var replies = new List<(ChildRef Child, RetireReply Reply)>();
        try
        {
            foreach (var child in transition.Children)
            {
                replies.Add((child, await Child(child.Path).Retire(transition.Generation)));
            }
        }
        catch (Exception e) when (transition.Siblings.Count == 0 && IsStepFailure(e) && e is not InconsistentStateException)
        {
            // A child cannot retire now (its silo is down, or it is away from its records): merge another time. Not
            // once a child's records were taken over (and maybe purged): then the merge goes on when it can.
            KblLog.TransitionPending(logger, e, _id, transition.Kind);
            await CallOffMerge(transition);
            return;
        }

        if (replies.FirstOrDefault(r => !r.Reply.Retired) is { Child: { } busy })
        {
            if (transition.Siblings.Count > 0)
            {
                throw new InvalidOperationException($"KBL {_id}: child {busy.Path} left its merge after others were taken over");
            }

            await CallOffMerge(transition); // a child divided since it last reported
            return;
        }

        _clock = Math.Max(Math.Max(_clock, store.ReadClock(_id)), replies.Max(r => r.Reply.Clock));
        var remote = replies.Where(r => r.Reply.Silo != silo.Name).Select(r => r.Child).ToList();
        foreach (var child in remote)
        {
            if (!transition.Siblings.Contains(child.Path))
            {
                // This disk may hold leftovers of the range (an unfinished move or split cleanup): they must not
                // come back as records the child deleted.
                store.ClearForArrival(_colony, child.Range);
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

                transition = transition with { Siblings = [.. transition.Siblings, child.Path] };
                State.Transition = transition;
                await Save();
            }
        }

        // The children's copies become the merged leaf's before any child drops its own (a purge does); where no silo
        // can fuse them, a copy of the merged records is made on another silo first.
        var copies = await FuseCopies(replies);
        var copied = copies is null ? await CopyMerged() : null;
        foreach (var child in remote)
        {
            await Child(child.Path).Purge(transition.Generation);
        }

        store.WriteClock(_id, _clock);
        State.Role = KblRole.Leaf;
        State.Children = [];
        State.LastDivision = null;
        State.Transition = null;
        State.ShapeChangedAt = time.GetUtcNow();
        ForgetCopies(); // copies from before its split hold none of what its children wrote since
        if (copies is not null)
        {
            // The log here starts where the fused copies are: at the merge's clock, its last entry of their epoch.
            // Before the save: saved, the configuration names this disk's copy as the shard's, and a replica copy of
            // this KBL left here from before its division must not be taken for it (ResetShard drops it).
            store.ResetShard(_id, _clock, copies.Epoch, lastEpoch: copies.Epoch);
            State.Replicas = copies;
        }
        else if (copied is not null)
        {
            State.Replicas = copied.Config; // its log here and the copy it made start at the merge's clock already
        }

        await Save();
        foreach (var (child, _) in replies.Where(r => r.Reply.Silo == silo.Name))
        {
            try
            {
                await Child(child.Path).Forget(transition.Generation); // purged children dropped theirs
            }
            catch (Exception e) when (IsStepFailure(e))
            {
                // Best effort: its members keep a copy nobody reads.
            }
        }

        LoadShard();
        _primary = copied; // the merged leaf's primary, in sync with the copy it made
        _meter.Reset();
        _childFeedback.Clear();
        _coldSince = null;
        KblLog.Merged(logger, _id, State.Epoch, _keys);
    }

    /// <summary>
    /// A mirrored merge's copies, made from its children's: each silo holding an in-sync copy of every child (not
    /// this one) puts them together as the merged leaf's copy (IReplicaGrain.Fuse: on its own disk, nothing sent over
    /// the network), up to <c>copies − 1</c> of them. The configuration the merged leaf starts with, those members in
    /// sync, under an epoch above any of its earlier ones; null when no silo could (one copy at first, the others
    /// rebuilt from snapshots, as before).
    /// </summary>
    private async Task<Replication.ShardConfig?> FuseCopies(IReadOnlyList<(ChildRef Child, RetireReply Reply)> replies)
    {
        if (!Redundancy.Mirrored || replies.Count == 0 || replies.Any(r => r.Reply.Copy is null))
        {
            return null;
        }

        var holders = replies.Select(r => (IEnumerable<string>)r.Reply.InSync).Aggregate((a, b) => a.Intersect(b, StringComparer.Ordinal))
            .Where(s => s != silo.Name && load.AddressOf(s) is not null)
            .Take(Redundancy.Copies - 1)
            .ToList();
        if (holders.Count == 0)
        {
            return null;
        }

        // An epoch of this attempt's own, saved before any copy is made with it: a later attempt (this one crashed, or
        // was called off and the children wrote since) takes a newer one, so no silo takes an earlier attempt's copy
        // for its own.
        var epoch = NextMergeEpoch();
        await SaveReplicas((Forgotten() ?? new Replication.ShardConfig(0, "", "", [], Redundancy.MinCopies)) with { Epoch = epoch });
        var children = replies.Select(r => r.Reply.Copy!).ToList();
        var members = await Task.WhenAll(holders.Select(async holder =>
        {
            try
            {
                return await GrainFactory.GetGrain<Replication.IReplicaGrain>(Replication.IReplicaGrain.Key(holder, _id)).Fuse(children, _clock, epoch).WaitAsync(timings.InstallTimeout) is { } disk
                    ? new Replication.ReplicaMember(holder, disk, InSync: true)
                    : null;
            }
            catch (Exception e) when (IsStepFailure(e))
            {
                KblLog.FuseFailed(logger, e, _id, holder);
                return null;
            }
        }));
        var fused = members.OfType<Replication.ReplicaMember>().ToList();
        return fused.Count == 0 ? null : new Replication.ShardConfig(epoch, silo.Name, store.DiskId, fused, Redundancy.MinCopies);
    }

    /// <summary>An epoch above every earlier one of this KBL, for a merge attempt's copies (saved before any is made with it).</summary>
    private long NextMergeEpoch() => EpochFloor(State.Replicas, store.ShardPosition(_id).Sealed) + 1;

    /// <summary>
    /// A mirrored merge whose leaves share no silo that could fuse their copies: before the merge completes (the
    /// leaves still hold theirs), the merged records here are streamed as a snapshot to another silo of the group
    /// (the least loaded, in another zone where there is one), as a rebuild would, so the merged leaf starts with two copies in sync rather than one while a
    /// rebuild runs. The merged leaf's primary, in sync with that copy; null when there is no other silo or the copy
    /// could not be made in time (one copy at first, the others rebuilt afterwards).
    /// </summary>
    private async Task<Replication.PrimaryCore?> CopyMerged()
    {
        var others = load.SilosOfGroup(State.Genome.NodeGroup).Where(s => s != silo.Name).ToList();
        if (!Redundancy.Mirrored || Redundancy.Copies < 2 || others.Count == 0)
        {
            return null;
        }

        // Another zone first, as a member MaintainReplicas adds (it moves no member already in sync).
        var target = PickCopySilo(others, [silo.Zone]);
        var epoch = NextMergeEpoch();
        await SaveReplicas(new Replication.ShardConfig(epoch, silo.Name, store.DiskId, [new Replication.ReplicaMember(target, "", InSync: false)], Redundancy.MinCopies));
        store.ResetShard(_id, _clock, epoch, lastEpoch: epoch);
        // Its stream does not wait behind the silo's other rebuilds: this turn holds the KBL's requests meanwhile.
        var primary = NewPrimary();
        primary.UrgentRebuilds = true;
        Exception? failure = null;
        try
        {
            // The first heal starts the snapshot's stream; once it is installed, the second catches the copy up and
            // records it in sync (a conditional write of this KBL's state, the merge still recorded in it).
            if (await primary.Activate() && !await primary.Heal(target) &&
                await primary.AnyRebuildEnds().WaitAsync(timings.InstallTimeout) && await primary.Heal(target))
            {
                primary.UrgentRebuilds = false; // the merged leaf's primary: its later rebuilds wait their turns as any leaf's
                return primary;
            }
        }
        catch (Exception e) when (IsStepFailure(e) || e is TimeoutException)
        {
            failure = e;
        }

        KblLog.MergedCopyFailed(logger, failure ?? primary.RebuildFailure, _id, target);
        primary.Stop();
        DropCopies(primary.Config); // best effort: what reached the target is not the merged leaf's copy
        return null;
    }

    /// <summary>
    /// Revives every child of a merge that is not going ahead (a child that retired and one whose answer was lost
    /// alike), then forgets the merge. The children must look cold for a whole hysteresis window again before the
    /// next attempt, so a child whose silo is down (its last report still cold) costs one attempt per window, not one
    /// per tick.
    /// </summary>
    private async Task CallOffMerge(Transition transition)
    {
        // Each child in turn, past failures: one child whose silo is down must not keep the others retired.
        var failures = new List<Exception>();
        foreach (var child in transition.Children)
        {
            try
            {
                await Child(child.Path).Commit(transition.Generation);
            }
            catch (Exception e) when (IsStepFailure(e))
            {
                failures.Add(e);
            }
        }

        if (failures.Count > 0)
        {
            throw new InvalidOperationException($"KBL {_id}: {failures.Count} children of a called-off merge could not be revived yet", failures[0]);
        }

        State.Transition = null;
        await Save();
        _coldSince = null;
    }

    public async Task<RetireReply> Retire(long generation)
    {
        if (State.Role == KblRole.Retired && State.Generation == generation)
        {
            RequireHome("a retired KBL's answer");
            return RetiredReply();
        }

        if (State.Role != KblRole.Leaf || _presence != Presence.AtHome || Hibernating)
        {
            return new RetireReply(false, silo.Name, _clock);
        }

        store.WriteClock(_id, _clock);
        State.Role = KblRole.Retired;
        State.Generation = generation;
        await Save();
        return RetiredReply();
    }

    /// <summary>A retired leaf's answer: where its records are, its clock, and its copies a merge may take over.</summary>
    private RetireReply RetiredReply()
    {
        var (applied, lastEpoch, _) = store.ShardPosition(_id);
        var mirrored = Redundancy.Mirrored && State.Replicas is { } config && config.Primary == State.Home && config.PrimaryDisk == store.DiskId && applied == _clock && applied > 0;
        return new RetireReply(true, State.Home!, _clock)
        {
            Copy = mirrored ? new Replication.FusedChild(_id, State.Range, applied, lastEpoch) : null,
            InSync = mirrored ? [.. State.Replicas!.InSync.Select(m => m.Silo)] : [],
        };
    }

    public Task<IReadOnlyList<StoredRecord>> Export(byte[] from, bool exclusive, int limit)
    {
        RequireHome("an export");
        if (State.Role != KblRole.Retired)
        {
            throw new InvalidOperationException($"KBL {_id} is {State.Role}; only a retired KBL hands over its records.");
        }

        // Bounded by bytes too: a page of large values stays well under Orleans' message limit.
        IReadOnlyList<StoredRecord> page = new PageBounds(limit, PageBounds.TransferBytes).Take(store.Scan(_colony, from, exclusive, State.Range.Hi)).Records;
        return Task.FromResult(page);
    }

    public async Task Forget(long generation)
    {
        if (State.Role != KblRole.Retired || State.Generation != generation || State.Replicas is not { } copies)
        {
            return;
        }

        // Forgotten first: revived later (a stale parent's call-off), it starts afresh rather than name dropped copies.
        DropPrimary();
        State.Replicas = null;
        await Save();
        DropCopies(copies);
    }

    public async Task Purge(long generation)
    {
        if (State.Role == KblRole.Retired && State.Generation == generation)
        {
            RequireHome("a purge"); // elsewhere it would drop another KBL's records
            if (!State.Purged)
            {
                // Recorded first: a merge called off late (a stale activation of the parent) must not revive it.
                State.Purged = true;
                await Save();
            }

            store.DeleteRange(_colony, State.Range);
            DropCopies(State.Replicas);
            DeactivateOnIdle();
        }
    }
}
