using Kbl.Colonies;
using Kbl.Records;
using Kbl.Replication;
using Orleans.Storage;

namespace Kbl.Tree;

// Redundancy: a leaf of a mirrored colony is its shard's primary (PrimaryCore) and keeps copies on other silos of
// its node group (ReplicaGrain); its replica configuration lives in its grain state, changed only by conditional
// write. A leaf whose home silo is down takes over on a silo that holds an in-sync copy (a failover).
public sealed partial class KblGrain
{
    private PrimaryCore? _primary;

    /// <summary>Silos whose copy this primary removed without its drop being answered: none is given a copy again in its epoch.</summary>
    private readonly HashSet<string> _undropped = new(StringComparer.Ordinal);

    /// <summary>
    /// Copies whose drop got no answer, and the epoch to drop them at: asked again on each tick while their silo is
    /// up (else a silo that stayed up would keep one, read by nobody, until its next start's sweep).
    /// </summary>
    private readonly Dictionary<string, long> _dropsDue = new(StringComparer.Ordinal);

    /// <summary>Since when this leaf, away from its node group (a move), has had a copy in sync there.</summary>
    private DateTimeOffset? _inSyncThereSince;

    /// <summary>The member added to spread copies that share a zone, and when: it is kept out of sync while it is built, for a while.</summary>
    private (string Silo, DateTimeOffset Since)? _respread;

    /// <summary>Waits for a rebuild under way to end, to tick then.</summary>
    private Task? _rebuildWatch;

    private Redundancy Redundancy => State.Genome.Redundancy;

    /// <summary>How long a member added to spread copies is kept while it is built (then it goes, as any extra, and may be tried again).</summary>
    private TimeSpan RespreadTimeout => timings.InstallTimeout * 4;

    /// <summary>
    /// Whether this activation may take over as primary here, on a silo other than its home: the home is down, and
    /// this silo holds a copy with every acknowledged write (an in-sync replica, or one promoted already).
    /// </summary>
    private bool CanTakeOver() =>
        State.HasMirror && State.Role == KblRole.Leaf && State.Transition is null && State.Home is { } home &&
        load.AddressOf(home) is null && State.Replicas?.IsComplete(silo.Name, store.DiskId) == true;

    /// <summary>
    /// Makes this silo's in-sync replica the leaf's copy and this silo its home (see <see cref="CanTakeOver"/>). The
    /// copy is first sealed for a newer epoch (persisted before, as every epoch is), waiting out the read lease it
    /// granted the old primary, so that primary (down, or only paused) can write to it no more. False when another
    /// activation sealed it for a newer epoch still.
    /// </summary>
    private async Task<bool> TakeOver()
    {
        var config = await SaveReplicas(State.Replicas! with { Epoch = State.Replicas!.Epoch + 1 });
        var replica = GrainFactory.GetGrain<IReplicaGrain>(IReplicaGrain.Key(silo.Name, _id));
        var deadline = time.GetUtcNow() + timings.SealTimeout;
        while (await replica.Seal(new SealRequest(config.Epoch, silo.Name)) is { Status: not SealStatus.Sealed } reply)
        {
            if (reply.Status == SealStatus.Fenced || time.GetUtcNow() + reply.Wait > deadline)
            {
                return false;
            }

            await Task.Delay(reply.Wait, time);
        }

        store.PromoteReplica(_colony, _id, State.Range);
        KblLog.TookOver(logger, _id, State.Home!, silo.Name);
        metrics.Failover(_colony);
        State.Home = silo.Name;
        return true;
    }

    /// <summary>
    /// Starts this mirrored leaf as its shard's primary, unless it runs already: it takes a new epoch, seals the
    /// in-sync copies and takes the longest log among them (PrimaryCore.Activate). A leaf whose copy here is not the
    /// one its configuration names (a new child, a merged parent, a moved leaf, a colony made mirrored) starts the
    /// log afresh at its clock, its members out of sync, to be rebuilt from a snapshot. A home silo that lost the
    /// disk holding the copy hands the leaf to an in-sync replica. A refusal when it cannot serve.
    /// </summary>
    private async Task<Refusal?> EnsurePrimary()
    {
        if (_primary is { Fenced: false } running && running.Log.AppliedSeq == _clock)
        {
            return null;
        }

        if (_primary is { Fenced: true })
        {
            return Fenced();
        }

        if (LostCopy() is { } holders)
        {
            return await HandOver(holders);
        }

        var config = State.Replicas;
        var complete = config?.IsComplete(silo.Name, store.DiskId) == true;
        if (complete && store.IsReplicaCopy(_id))
        {
            // An in-sync replica made home (a hand-over, or a takeover cut short): its records are the leaf's.
            store.PromoteReplica(_colony, _id, State.Range);
            _clock = 0; // whatever the colony's records here held before does not count
            LoadShard();
        }

        var (applied, _, sealedEpoch) = store.ShardPosition(_id);
        _clock = Math.Max(_clock, applied); // versions never go back, whatever the log here says
        if (!complete || applied != _clock)
        {
            var epoch = EpochFloor(config, sealedEpoch) + 1;
            await SaveReplicas(new ShardConfig(
                epoch, silo.Name, store.DiskId, [.. (config?.Members ?? []).Where(m => m.Silo != silo.Name).Select(m => m with { InSync = false })], Redundancy.MinCopies));
            store.ResetShard(_id, _clock, epoch);
        }

        DropPrimary();
        var primary = NewPrimary();
        if (!await primary.Activate())
        {
            return primary.Fenced ? Fenced() : new Refusal(KblStatus.Unavailable, null, $"KBL {_id} is taking over its shard's copies; retry shortly");
        }

        if (primary.Log.AppliedSeq != _clock)
        {
            LoadShard(); // it took writes from a longer copy: count them, and continue the clock after them
        }

        _primary = primary;
        return null;
    }

    /// <summary>
    /// The silo a new copy goes to, zones first: the least loaded of <paramref name="spare"/> in a zone none of
    /// <paramref name="taken"/> is, else the least loaded of them all.
    /// </summary>
    private string PickCopySilo(IReadOnlyCollection<string> spare, IEnumerable<string?> taken)
    {
        var zones = taken.ToHashSet();
        var apart = spare.Where(s => load.ZoneOf(s) is { } zone && !zones.Contains(zone)).ToList();
        return load.PickLeastLoaded(apart.Count > 0 ? apart : spare);
    }

    /// <summary>A primary for this KBL's shard over the copy here, its configuration in this KBL's state; Activate starts it.</summary>
    private PrimaryCore NewPrimary() =>
        new(silo.Name, new RocksShardLog(store, _colony, _id, () => State.Range), new ConfigRegister(this), new GrainReplicaTransport(GrainFactory, _id, timings, throttle), new SystemTimeSource(time), timings);

    /// <summary>
    /// The silos holding a complete copy of this leaf when the copy here is not one and the configuration names
    /// others (this home silo came back with a new disk, or was made home by a hand-over that went wrong): the leaf
    /// must not start afresh here, which would drop what they hold. Null when the copy here may serve.
    /// </summary>
    private IReadOnlyList<string>? LostCopy()
    {
        if (State.Replicas is not { } config || config.IsComplete(silo.Name, store.DiskId))
        {
            return null;
        }

        var elsewhere = config.InSync.Where(m => m.Silo != silo.Name).Select(m => m.Silo).ToList();
        if (config.Primary.Length > 0 && config.PrimaryDisk.Length > 0 && config.Primary != silo.Name)
        {
            elsewhere.Add(config.Primary);
        }

        return elsewhere.Count > 0 ? elsewhere : null;
    }

    /// <summary>
    /// Moves this leaf's home to a silo holding a complete copy (still on the disk the configuration names), and
    /// refuses here meanwhile; with none of them up, it deactivates and is placed again by the next request.
    /// </summary>
    private async Task<Refusal> HandOver(IReadOnlyList<string> holders)
    {
        _presence = Presence.Displaced; // nothing here may read or drop this leaf's records: this store has none of them
        var config = State.Replicas!;
        foreach (var holder in holders.Where(h => load.AddressOf(h) is not null))
        {
            var disk = holder == config.Primary ? config.PrimaryDisk : config.Members.First(m => m.Silo == holder).Disk;
            try
            {
                if (await GrainFactory.GetGrain<IReplicaGrain>(IReplicaGrain.Key(holder, _id)).Disk().WaitAsync(timings.CallTimeout) != disk)
                {
                    continue; // that silo lost its disk too
                }
            }
            catch (Exception e) when (IsStepFailure(e))
            {
                continue;
            }

            State.Home = holder;
            await Save();
            MigrateHome();
            return new Refusal(KblStatus.Moved, Moved.WalkFromRoot(State.Epoch), null);
        }

        DeactivateOnIdle();
        return new Refusal(KblStatus.Unavailable, null, $"KBL {_id}: silo '{silo.Name}' does not hold its records; the silos that do ({string.Join(", ", holders)}) are not up");
    }

    /// <summary>This activation is no longer its shard's primary (or starts a new one): the rebuilds it streams stop.</summary>
    private void DropPrimary()
    {
        _primary?.Stop();
        _primary = null;
        _undropped.Clear();
        _dropsDue.Clear();
    }

    /// <summary>
    /// The least epoch this KBL's shard may take next: not below its configuration's (<paramref name="config"/>), what
    /// this disk has sealed for it (<paramref name="sealedHere"/>), nor its colony life's base (State.EpochBase), so no
    /// copy an earlier epoch or an earlier life sealed fences it or agrees with it.
    /// </summary>
    private long EpochFloor(ShardConfig? config, long sealedHere) => Math.Max(Math.Max(config?.Epoch ?? 0, sealedHere), State.EpochBase);

    /// <summary>Forgets every copy but the one here as the leaf's shape changes (split, merge, one copy): the epoch stays, so later epochs stay above every seal.</summary>
    private void ForgetCopies()
    {
        State.Replicas = Forgotten();
        DropPrimary();
    }

    /// <summary>
    /// Asks the silos of <paramref name="config"/>'s members to drop their copies of this KBL, which holds no shard
    /// any more (it became interior, or merged away). Best effort, after the change is saved: a silo that misses it
    /// keeps a copy nobody reads, as a silo dropped from a replica set does.
    /// </summary>
    private void DropCopies(Replication.ShardConfig? config)
    {
        foreach (var member in config?.Members ?? [])
        {
            _ = DropCopy(member.Silo, config!.Epoch);
        }
    }

    /// <summary>Asks <paramref name="member"/> to drop its copy sealed at or below <paramref name="epoch"/>; false when it did not answer (the drop may still arrive).</summary>
    private async Task<bool> DropCopy(string member, long epoch)
    {
        try
        {
            await GrainFactory.GetGrain<IReplicaGrain>(IReplicaGrain.Key(member, _id)).Drop(epoch).WaitAsync(timings.CallTimeout);
            return true;
        }
        catch (Exception e) when (IsStepFailure(e))
        {
            return false; // its silo is down or slow: the copy stays, read by nobody
        }
    }

    /// <summary>
    /// One copy from now on (the genome changed) for a leaf that was mirrored: the replicas stop following, so none
    /// may count as in sync (saved before the leaf writes alone), and their copies are dropped (best effort; a silo
    /// that misses it drops its copy at its next sweep, as the stored state no longer names it). Only where no copy
    /// its configuration names complete is on another silo (<see cref="LostCopy"/>: the one here is, or it is the one
    /// a move brought here) and the copy here is the leaf's records, not an in-sync replica's a hand-over has not
    /// taken up yet: the others may be all there is. True when the leaf may write alone.
    /// </summary>
    private async Task<bool> ForgetMirror()
    {
        if (Redundancy.Mirrored || State.Replicas is not { NamesCopies: true } mirrored)
        {
            return true;
        }

        if (LostCopy() is not null || (store.IsReplicaCopy(_id) && mirrored.IsComplete(silo.Name, store.DiskId)))
        {
            return false;
        }

        if (store.IsReplicaCopy(_id))
        {
            // A replica's copy here that is not in sync, beside the records a move brought (the genome went to one copy
            // before the moved leaf started its primary, which would have reset it): not the leaf's, so it goes.
            store.ResetShard(_id, _clock, mirrored.Epoch);
        }

        DropPrimary();
        await SaveReplicas(Forgotten()!);
        DropCopies(mirrored);
        return true;
    }

    /// <summary>The replica configuration with no copy but the one here, its epoch kept (null when there is none).</summary>
    private ShardConfig? Forgotten() => State.Replicas is { } config ? config with { Primary = "", PrimaryDisk = "", Members = [] } : null;

    /// <summary>Saves <paramref name="config"/> as the replica configuration (restored when the write fails).</summary>
    private async Task<ShardConfig> SaveReplicas(ShardConfig config)
    {
        var before = State.Replicas;
        State.Replicas = config;
        try
        {
            await Save();
            return config;
        }
        catch
        {
            State.Replicas = before;
            throw;
        }
    }

    /// <summary>A refusal of this activation for good: a newer one took the shard over (it deactivates).</summary>
    private Refusal Fenced()
    {
        DropPrimary();
        DeactivateOnIdle();
        return new Refusal(KblStatus.Unavailable, null, $"KBL {_id}: a newer activation took over its shard; retry");
    }

    /// <summary>Writes records on every in-sync copy: the outcome, the first record's version, and the refusal when it was refused.</summary>
    private async Task<(WriteOutcome Outcome, long Version, Refusal? Refusal)> WriteCopies(IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        if (await EnsurePrimary() is { } refusal)
        {
            return (WriteOutcome.Refused, 0, refusal);
        }

        var (outcome, version) = await _primary!.Write(records);
        if (_primary.WriteFailure is { } failure)
        {
            KblLog.WriteFailed(logger, failure, _id);
        }

        return outcome switch
        {
            WriteOutcome.Refused when _primary.Fenced => (outcome, 0, Fenced()),
            WriteOutcome.Refused => (outcome, 0, new Refusal(
                KblStatus.Unavailable,
                null,
                $"KBL {_id} has {_primary.Copies} of the {_primary.Config.MinCopies} copies a write needs (redundancy minCopies); reads are served, writes wait for silos of group '{State.Genome.NodeGroup}' to join")),
            WriteOutcome.Unknown => (outcome, version, _primary.Fenced ? Fenced() : null),
            _ => (outcome, version, null),
        };
    }

    public async Task<bool> DropStrayCopy(string member, long sealedEpoch)
    {
        // Never a copy on its home silo (it may be the one a hand-over made home, not yet promoted), nor during a
        // change of shape or a deletion (a division forks its leaves' copies from its own). A leaf's copy only when
        // its configuration does not name that silo, and not one sealed for a newer epoch than that configuration.
        var config = _primary?.Config ?? State.Replicas;
        var stray = member != State.Home && State.Transition is null && !Deleting && State.Role switch
        {
            KblRole.Interior => true,
            KblRole.Retired => State.Purged || State.Replicas is null, // merged away (a child on its parent's silo is forgotten, not purged)
            KblRole.Leaf => config is null || (sealedEpoch <= config.Epoch && config.Primary != member && config.Members.All(m => m.Silo != member)),
            _ => false,
        };
        if (!stray)
        {
            return false;
        }

        // Decided by the activation whose state is the newest: a stale or duplicate one (Orleans allows two for a
        // moment) fails this conditional write of its state and drops nothing, where its older configuration could
        // take a member named since for a stray.
        try
        {
            await Save();
        }
        catch (InconsistentStateException)
        {
            DeactivateOnIdle();
            return false;
        }

        // Dropped only while sealed for that epoch or an older one: a primary of a later epoch re-adding the silo
        // seals the copy above it first. One of this very epoch (this primary's) could re-add it before a drop that
        // got no answer arrives: that silo then gets no copy again in this epoch, as after any drop it could not confirm.
        if (await DropCopy(member, sealedEpoch))
        {
            KblLog.StrayCopyDropped(logger, _id, member, sealedEpoch);
            return true;
        }

        if (_primary is { } primary)
        {
            NoteUnansweredDrop(primary, member, sealedEpoch); // with no primary here, the silo's next start asks again
        }

        return false;
    }

    public async Task<KblCopies> Copies()
    {
        if (State.Role is KblRole.None or KblRole.Retired or KblRole.Pending || Deleting)
        {
            return new KblCopies(KblStatus.NotFound, [], $"KBL {_id} does not hold a shard (it was never born, merged away, or is being born or deleted)");
        }

        if (State.Role == KblRole.Interior)
        {
            return new KblCopies(KblStatus.Moved, [], $"KBL {_id} is interior: its records are with its leaves ({string.Join(", ", State.Children.Select(c => c.Path))})");
        }

        if (Hibernating)
        {
            return new KblCopies(KblStatus.Moved, [], $"KBL {_id} hibernates: its records are in the cold tier, on no silo");
        }

        if ((Refuse(State.Range.Lo) ?? await ReadFence()) is { } refusal)
        {
            return new KblCopies(KblStatus.Unavailable, [], refusal.Message ?? $"KBL {_id} is not serving now; retry");
        }

        var own = new ShardCopy(silo.Name, Primary: true, InSync: true, store.Digest(_colony, _id, State.Range, replica: false) with { AppliedSeq = _clock });
        if (!Redundancy.Mirrored || State.Replicas is not { } config)
        {
            return new KblCopies(KblStatus.Ok, [own]);
        }

        var members = await Task.WhenAll(config.Members.Select(async m => new ShardCopy(m.Silo, Primary: false, m.InSync, await DigestOf(m.Silo))));
        return new KblCopies(KblStatus.Ok, [own, .. members]);
    }

    /// <summary>A member's digest of this leaf's range, or null when its silo does not answer in time.</summary>
    private async Task<CopyDigest?> DigestOf(string member)
    {
        try
        {
            // As long as a rebuild's page may take: a replica still digesting must not meet this primary's next append.
            return await GrainFactory.GetGrain<IReplicaGrain>(IReplicaGrain.Key(member, _id)).Digest(State.Range).WaitAsync(timings.InstallTimeout);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>
    /// Why this leaf may not serve a read now, or null: a mirrored one cannot confirm it is still the primary; one
    /// switched to one copy has not forgotten its mirror yet and cannot now (that save fails once a copy's silo took
    /// over, so an old home paused past its failover reads alone no more than it writes alone).
    /// </summary>
    private async Task<Refusal?> ReadFence()
    {
        if (!Redundancy.Mirrored)
        {
            return await ForgetMirror() ? null : new Refusal(KblStatus.Unavailable, null, $"KBL {_id} does not hold a complete copy of its records on silo '{silo.Name}' yet; retry");
        }

        if (await EnsurePrimary() is { } refusal)
        {
            return refusal;
        }

        return await _primary!.EnsureReadLease() ? null : _primary.Fenced ? Fenced() : new Refusal(KblStatus.Unavailable, null, $"KBL {_id} cannot confirm it is still its shard's primary; retry");
    }

    /// <summary>
    /// On each tick of a mirrored leaf at home: keeps <c>copies − 1</c> members on other silos of its node group,
    /// in zones that hold no copy yet where it can (replacing members whose silo is gone while another is up; moving a
    /// copy that shares a zone to a zone without one when a silo there is up, by way of one copy more), and
    /// brings the members out of sync back (from their log position, or from a snapshot streamed in the background).
    /// A leaf whose home is not in its node group (the group was changed: a move) keeps <c>copies</c> members in the
    /// group and hands its shard to one of them once they are in sync. A member on a silo that is up but not of the
    /// group (the old group's, a draining silo's) is a stray: one in sync stays while the primary is outside the group,
    /// then until the group holds enough copies in sync or more copies than the genome asks are in sync, and is then
    /// removed and its copy dropped — so a move never leaves fewer copies in sync than before it.
    /// </summary>
    private async Task MaintainReplicas()
    {
        if (State.Role != KblRole.Leaf || State.Transition is not null || _presence != Presence.AtHome)
        {
            return;
        }

        if (!Redundancy.Mirrored)
        {
            await ForgetMirror(); // a leaf that takes no writes drops its copies too
            return;
        }

        if (await EnsurePrimary() is not null)
        {
            return;
        }

        var primary = _primary!;
        await primary.SetMinCopies(Redundancy.MinCopies);
        await DropDueCopies(primary);
        var up = load.SilosOfGroup(State.Genome.NodeGroup).ToHashSet(StringComparer.Ordinal);
        if (primary.Config.InSync.Any(m => !up.Contains(m.Silo)))
        {
            await primary.Heartbeat(); // a member whose silo is gone is out of sync from now on, idle or not
        }

        // Away from its group (a move), or on a silo that drains, the primary's copy here will not count: it keeps
        // every copy the genome asks on the group's other silos (then hands over, or the drain does).
        var away = silo.NodeGroup != State.Genome.NodeGroup;
        var ownCopyCounts = !away && !local.Draining;
        var wanted = Redundancy.Copies - (ownCopyCounts ? 1 : 0);
        bool Stray(ReplicaMember m) => !up.Contains(m.Silo) && load.AddressOf(m.Silo) is not null;
        List<ReplicaMember> Placed() => [.. primary.Config.Members.Where(m => !Stray(m))];
        var spare = up.Where(s => s != silo.Name && primary.Config.Members.All(m => m.Silo != s)).ToList();
        var mayNotReturn = spare.RemoveAll(_undropped.Contains) > 0;

        // A member whose silo is gone makes way for a spare silo; without one it stays, to catch up from where it
        // was if it comes back with its disk.
        var replaceable = spare.Count;
        foreach (var gone in primary.Config.Members.Where(m => !m.InSync && load.AddressOf(m.Silo) is null).ToList())
        {
            if (replaceable-- > 0 || Placed().Count > wanted)
            {
                await RemoveCopy(primary, gone.Silo);
            }
        }

        // In-sync strays go only once the primary is in the group (a hand-over may leave a copy in the group out of
        // sync) and the group holds enough copies in sync, or more copies than the genome asks are in sync.
        foreach (var stray in primary.Config.Members.Where(Stray).OrderBy(m => m.InSync).ToList())
        {
            if (!stray.InSync || (!away && (primary.Config.InSync.Count(m => up.Contains(m.Silo)) >= wanted || primary.Copies > Redundancy.Copies)))
            {
                await RemoveCopy(primary, stray.Silo);
            }
        }

        // A copy is crowded when another copy is in its zone. Extras go out of sync first, crowded first — but the member
        // a re-spread added (below) stays while it is built, for up to RespreadTimeout, and the crowded copy goes once
        // it is in sync. A copy in sync goes only while enough others are.
        bool Crowded(ReplicaMember m, List<ReplicaMember> placed) => load.ZoneOf(m.Silo) is { } zone &&
            ((ownCopyCounts && silo.Zone == zone) || placed.Count(o => load.ZoneOf(o.Silo) == zone) > 1);
        if (_respread is { } respread && (primary.Config.Members.All(m => m.Silo != respread.Silo || m.InSync) || time.GetUtcNow() - respread.Since > RespreadTimeout))
        {
            _respread = null; // in sync, gone from the set, or built for too long (it goes as any extra)
        }

        for (var extras = Placed().Count - wanted; extras > 0; extras--)
        {
            var placed = Placed();
            var extra = placed
                .Where(m => m.InSync ? placed.Count(o => o.InSync) > wanted : m.Silo != _respread?.Silo)
                .OrderBy(m => m.InSync).ThenBy(m => Crowded(m, placed) ? 0 : 1).FirstOrDefault();
            if (extra is null)
            {
                break;
            }

            await RemoveCopy(primary, extra.Silo);
        }

        // The zones copies that stay are in (a stray's, leaving, does not count).
        List<string?> Zones() => [.. Placed().Select(m => load.ZoneOf(m.Silo)), .. ownCopyCounts ? [silo.Zone] : Array.Empty<string?>()];
        while (Placed().Count < wanted && spare.Count > 0)
        {
            var next = PickCopySilo(spare, Zones());
            spare.Remove(next);
            await primary.AddMember(next);
        }

        // Copies crowded in one zone while a silo of the group is up in a zone that holds none (the zone came back, or
        // joined): one more member goes there; once it is in sync the crowded copy it relieves goes (above), so the
        // shard never has fewer copies in sync on the way.
        if (ownCopyCounts && Placed() is { } settled && settled.Count == wanted && settled.All(m => m.InSync) && settled.Any(m => Crowded(m, settled)) &&
            Zones() is var zones && spare.Any(s => load.ZoneOf(s) is { } zone && !zones.Contains(zone)))
        {
            var next = PickCopySilo(spare, zones);
            spare.Remove(next);
            if (await primary.AddMember(next))
            {
                _respread = (next, time.GetUtcNow());
            }
        }

        if (Placed().Count < wanted && mayNotReturn)
        {
            // The only silos left to hold a copy missed the drop of the copy they held in this epoch: a late drop could
            // meet a copy rebuilt there now. The next request starts a new epoch, above that drop.
            DropPrimary();
            return;
        }

        // Members being rebuilt from a snapshot are streamed to off this turn; a later tick catches them up.
        var (installed, took) = (primary.InstalledBytes, primary.InstalledTime);
        foreach (var behind in primary.Config.Members.Where(m => !m.InSync && up.Contains(m.Silo)).ToList())
        {
            await primary.Heal(behind.Silo);
        }

        if (primary.Rebuilding > 0 && _rebuildWatch is not { IsCompleted: false })
        {
            _rebuildWatch = TickWhenRebuilt(primary);
        }

        if (primary.RebuildFailure is { } failure)
        {
            KblLog.RebuildFailed(logger, failure, _id);
            primary.RebuildFailure = null;
        }

        if (primary.InstalledBytes > installed)
        {
            metrics.Rebuilt(_colony, primary.InstalledBytes - installed, primary.InstalledTime - took);
        }

        if (primary.Fenced)
        {
            Fenced();
            return;
        }

        // Away, it hands over once its copies in the group are in sync — or, when one of them is and another has not
        // got there for as long as a rebuild may take, without waiting for that one any more.
        var there = away ? primary.Config.Members.Where(m => up.Contains(m.Silo)).ToList() : [];
        _inSyncThereSince = there.Any(m => m.InSync) ? _inSyncThereSince ?? time.GetUtcNow() : null;
        if (there.Count > 0 && (there.All(m => m.InSync) || time.GetUtcNow() - _inSyncThereSince > timings.InstallTimeout))
        {
            await HandOverToGroup(load.PickLeastLoaded(there.Where(m => m.InSync).Select(m => m.Silo)));
        }
    }

    /// <summary>
    /// A leaf moved to another node group, its copies there in sync, hands its shard to the one on
    /// <paramref name="holder"/> (see <see cref="HandsOverTo"/>): no record is copied, and the copies left in the
    /// old group stay in sync until the new primary has enough in its group. A hand-over that cannot be made now is
    /// tried again on a later tick.
    /// </summary>
    private async Task HandOverToGroup(string holder)
    {
        try
        {
            await RelocateCore(silo.Name, holder);
        }
        catch (Exception e) when (IsStepFailure(e))
        {
            KblLog.GroupHandOverFailed(logger, e, _id, State.Genome.NodeGroup, holder);
        }
    }

    /// <summary>
    /// Takes <paramref name="member"/> out of the replica set and, once that is saved, drops its copy there. A drop
    /// that gets no answer may still arrive late: that silo is not given a copy again in this epoch (a late drop
    /// would delete it; a later epoch's copy is sealed above it and kept).
    /// </summary>
    private async Task RemoveCopy(PrimaryCore primary, string member)
    {
        if (!await primary.RemoveMember(member) || load.AddressOf(member) is null)
        {
            return; // not removed, or its silo is down: its copy stays there, read by nobody
        }

        if (!await DropCopy(member, primary.Config.Epoch))
        {
            NoteUnansweredDrop(primary, member, primary.Config.Epoch);
        }
    }

    /// <summary>
    /// A drop of <paramref name="member"/>'s copy at <paramref name="epoch"/> got no answer: this primary's ticks ask
    /// again, and, as it may still arrive, a drop of this primary's epoch keeps that silo from a copy in that epoch.
    /// </summary>
    private void NoteUnansweredDrop(PrimaryCore primary, string member, long epoch)
    {
        if (epoch >= primary.Config.Epoch)
        {
            _undropped.Add(member);
        }

        _dropsDue[member] = epoch;
    }

    /// <summary>
    /// Asks again, all at once (a silo up but not answering holds the tick for one call's timeout, not one per copy),
    /// the silos up whose drop got no answer. Safe whenever it arrives: a replica drops only a copy sealed at or below
    /// the epoch asked, this primary gives none of them a copy again in its epoch (<c>_undropped</c>), and a later
    /// primary seals a copy it makes above it. A silo made a member again since keeps its copy.
    /// </summary>
    private async Task DropDueCopies(PrimaryCore primary)
    {
        if (primary.Fenced)
        {
            return;
        }

        foreach (var member in _dropsDue.Keys.Where(m => primary.Config.Members.Any(c => c.Silo == m)).ToList())
        {
            _dropsDue.Remove(member);
        }

        var due = _dropsDue.Where(d => load.AddressOf(d.Key) is not null).ToList();
        var answered = await Task.WhenAll(due.Select(async d => (Drop: d, Answered: await DropCopy(d.Key, d.Value))));
        foreach (var ((member, epoch), _) in answered.Where(a => a.Answered))
        {
            KblLog.StrayCopyDropped(logger, _id, member, epoch);
            _dropsDue.Remove(member);
        }
    }

    /// <summary>
    /// When a rebuild's stream installs its snapshot, the next tick comes at once: it catches the member up and marks it
    /// in sync. A stream that failed waits for the next tick as usual (no loop of failing streams).
    /// </summary>
    private async Task TickWhenRebuilt(PrimaryCore primary)
    {
        if (await primary.AnyRebuildEnds() && _primary == primary)
        {
            _timer?.Change(TimeSpan.Zero, _period);
        }
    }

    /// <summary>
    /// Whether this leaf may leave its silo (a drain) without fewer copies in sync: it is not a mirrored leaf at home,
    /// or its copies in sync on the group's other live silos are as many as its genome asks, or as those silos.
    /// </summary>
    private bool ReadyToLeave()
    {
        if (!Redundancy.Mirrored || State.Role != KblRole.Leaf || _presence != Presence.AtHome || State.Transition is not null || State.Replicas is not { } config)
        {
            return true; // (a leaf in the middle of a division or merge adds no copy: the drain's passes try it again)
        }

        var others = load.SilosOfGroup(State.Genome.NodeGroup).Where(s => s != silo.Name).ToHashSet(StringComparer.Ordinal);
        return config.InSync.Count(m => others.Contains(m.Silo)) >= Math.Min(Redundancy.Copies, others.Count);
    }

    /// <summary>The leaf's replica set as the tree shows it: members, and whether it is redundant, degraded or rebuilding.</summary>
    private KblReplicas? ReplicasView()
    {
        if (!Redundancy.Mirrored || State.Role != KblRole.Leaf || State.Replicas is not { } config)
        {
            return null;
        }

        var inSync = 1 + config.InSync.Count();
        var status = inSync >= Redundancy.Copies ? "redundant" : config.Members.Any(m => !m.InSync && load.AddressOf(m.Silo) is not null) ? "rebuilding" : "degraded";
        return new KblReplicas(status, config.Primary, [.. config.Members.Select(m => new KblReplica(m.Silo, m.InSync))], inSync, Redundancy.Copies);
    }

    /// <summary>The replica configuration in the KBL's grain state: a change is a conditional write of that state.</summary>
    private sealed class ConfigRegister(KblGrain kbl) : IConfigRegister
    {
        public Task<ShardConfig> Read() => Task.FromResult(kbl.State.Replicas ?? throw new InvalidOperationException($"KBL {kbl._id} has no replica configuration"));

        public async Task<bool> TryReplace(ShardConfig expected, ShardConfig next)
        {
            if (!ReferenceEquals(kbl.State.Replicas, expected))
            {
                return false;
            }

            kbl.State.Replicas = next;
            try
            {
                await kbl.Save();
                return true;
            }
            catch (InconsistentStateException)
            {
                kbl.State.Replicas = expected;
                kbl.DeactivateOnIdle(); // another activation wrote this KBL's state since: this one is stale
                return false;
            }
            catch
            {
                kbl.State.Replicas = expected; // not written: the configuration stays what it was
                throw;
            }
        }
    }
}
