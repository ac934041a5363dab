using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;
using Orleans.Runtime.Placement;

namespace Kbl.Tree;

// Births: the KBLs a division, split or push-down creates receive their range, parent and records (Birth, Import,
// Commit), and children handed to a new parent learn it (SetParent). Driven by KblGrain.Split.cs.
public sealed partial class KblGrain
{
    /// <summary>
    /// Births of a division's new KBLs (<paramref name="groups"/>: the children each takes over, null for leaves),
    /// and their records from this silo where a leaf is born elsewhere. Returns each KBL with the silo it lives on.
    /// </summary>
    private async Task<List<(ChildRef Kbl, string Silo)>> GiveBirth(Transition transition, IReadOnlyList<ChildRef> kbls, string parent, IReadOnlyList<IReadOnlyList<ChildRef>>? groups)
    {
        var births = new List<(ChildRef Kbl, BirthReply Reply)>();
        var homes = groups is null ? Homes(kbls.Count, transition.ByLoad) : new SiloAddress?[kbls.Count];
        RequestContext.Set(KblPlacementDirector.NodeGroupKey, State.Genome.NodeGroup);
        try
        {
            for (var i = 0; i < kbls.Count; i++)
            {
                if (homes[i] is { } hint)
                {
                    RequestContext.Set(IPlacementDirector.PlacementHintKey, hint);
                }
                else
                {
                    RequestContext.Remove(IPlacementDirector.PlacementHintKey);
                }

                var birth = new ChildBirth(kbls[i].Range, State.Genome, transition.Generation, _clock, silo.Name, parent, groups is null ? [] : groups[i]) { Incarnation = State.Incarnation, EpochBase = State.EpochBase };
                births.Add((kbls[i], await Child(kbls[i].Path).Birth(birth)));
            }
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            RequestContext.Remove(KblPlacementDirector.NodeGroupKey);
        }

        if (groups is null)
        {
            foreach (var (kbl, reply) in births.Where(b => !b.Reply.Committed && b.Reply.Silo != silo.Name))
            {
                foreach (var batch in PageBounds.Transfer.Pages(store.Scan(_colony, kbl.Range.Lo, exclusive: false, kbl.Range.Hi)))
                {
                    await Child(kbl.Path).Import(batch);
                }
            }

            foreach (var (kbl, reply) in births.Where(b => !b.Reply.Committed))
            {
                await BequeathCopies(transition.Generation, kbl, reply.Silo);
            }
        }

        return [.. births.Select(b => (b.Kbl, b.Reply.Silo))];
    }

    /// <summary>
    /// A mirrored leaf dividing hands a new leaf born on <paramref name="home"/> the copies its in-sync members hold
    /// (those not on that silo): each forks its copy of this leaf within the new leaf's range, on its own disk, and
    /// the new leaf starts as their primary (InheritCopies) — no window with one copy, nothing sent over the
    /// network. A member that cannot fork is left out (the new leaf rebuilds a copy there or elsewhere, as before).
    /// </summary>
    private async Task BequeathCopies(long generation, ChildRef kbl, string home)
    {
        var (applied, lastEpoch, _) = store.ShardPosition(_id);
        if (!Redundancy.Mirrored || State.Replicas is not { } config || config.Primary != silo.Name || applied != _clock || applied == 0)
        {
            return; // its copy here is not (or no longer) the one its members follow
        }

        var childId = ColonyNames.KblId(_colony, kbl.Path);
        var forks = await Task.WhenAll(config.InSync.Where(m => m.Silo != home).Select(async member =>
        {
            try
            {
                return await GrainFactory.GetGrain<Replication.IReplicaGrain>(Replication.IReplicaGrain.Key(member.Silo, childId)).Fork(_id, kbl.Range, applied, lastEpoch).WaitAsync(timings.InstallTimeout) ? member : null;
            }
            catch (Exception e) when (IsStepFailure(e))
            {
                KblLog.ForkFailed(logger, e, _id, kbl.Path, member.Silo);
                return null;
            }
        }));
        // Sent even with no copy forked: an earlier attempt of this division may have left the new leaf a list of
        // copies that this one's failed forks no longer back.
        await Child(kbl.Path).InheritCopies(generation, applied, new Replication.ShardConfig(lastEpoch, "", "", [.. forks.OfType<Replication.ReplicaMember>()], Redundancy.MinCopies));
    }

    public async Task InheritCopies(long generation, long appliedSeq, Replication.ShardConfig replicas)
    {
        if (State.Generation != generation || State.Role != KblRole.Pending || State.Children.Count > 0 || _clock != appliedSeq)
        {
            return; // not (or no longer) the birth it was for: it starts afresh, rebuilding its copies
        }

        RequireHome("inheriting copies"); // its records are on its home silo
        if (replicas.Members.Count == 0)
        {
            if (State.Replicas is not null)
            {
                State.Replicas = null; // no copy to inherit: it starts afresh, rebuilding them
                await Save();
            }

            return;
        }
        var (_, _, sealedEpoch) = store.ShardPosition(_id);
        var epoch = EpochFloor(replicas, sealedEpoch);
        State.Replicas = replicas with { Epoch = epoch, Primary = silo.Name, PrimaryDisk = store.DiskId };
        await Save();

        // The log here starts where the members' forks are: at the birth clock, its last entry of the parent's epoch.
        store.ResetShard(_id, _clock, epoch, lastEpoch: replicas.Epoch);
    }

    /// <summary>
    /// Where new leaves should live: a size division keeps them here (their records are already on this disk); a
    /// load division spreads them over the group's silos, least loaded first, so the load spreads too.
    /// </summary>
    private SiloAddress?[] Homes(int count, bool byLoad)
    {
        var homes = new SiloAddress?[count];
        var group = load.SilosOfGroup(State.Genome.NodeGroup);
        if (byLoad && group.Count > 1)
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
        if (Deleting)
        {
            throw new InvalidOperationException($"KBL {_id} is being deleted with its colony; it is born no more");
        }

        if (birth.Generation == State.Generation && State.Role is KblRole.Leaf or KblRole.Interior)
        {
            return new BirthReply(State.Home ?? silo.Name, Committed: true); // where its records are, wherever this activation is
        }

        if (birth.Generation < State.Generation)
        {
            throw new InvalidOperationException($"KBL {_id} is at generation {State.Generation}; a birth of generation {birth.Generation} is stale.");
        }

        // A pending leaf away from its home (that silo is down) is born again here: its records still all are with
        // the dividing KBL, which sends them again, so the birth need not wait for the lost silo.
        var bornAgain = State.Role == KblRole.Pending && State.Children.Count == 0 && _presence != Presence.AtHome;
        if (birth.Generation > State.Generation || State.Role != KblRole.Pending || bornAgain)
        {
            State.Role = KblRole.Pending;
            State.Range = birth.Range;
            State.Genome = birth.Genome;
            State.Generation = birth.Generation;
            State.Incarnation = birth.Incarnation;
            State.EpochBase = birth.EpochBase;
            State.Parent = birth.Parent;
            State.Children = [.. birth.Children];
            State.Transition = null;
            State.LastDivision = null;
            State.BirthClock = birth.Clock;
            State.Replicas = null; // an earlier, unfinished life's inherited copies are not this one's
            State.Home = silo.Name;
            State.Epoch++;
            State.ShapeChangedAt = time.GetUtcNow();
            await Save();
            if (_presence == Presence.Displaced)
            {
                _presence = Presence.AtHome; // born here: this silo holds its records now
            }

            if (birth.Children.Count == 0 && birth.ParentSilo != silo.Name)
            {
                // Records arrive from the dividing KBL's silo: clear whatever an earlier, unfinished life left here.
                store.ClearForArrival(_colony, birth.Range);
            }
        }
        else
        {
            RequireHome("a resumed birth"); // born elsewhere: its imported records are on its home silo
        }

        _clock = Math.Max(_clock, birth.Clock);
        return new BirthReply(silo.Name, Committed: false);
    }

    public Task Import(IReadOnlyList<StoredRecord> records)
    {
        RequireHome("an import");
        if (State.Role != KblRole.Pending)
        {
            throw new InvalidOperationException($"KBL {_id} is {State.Role}; only a KBL being born imports records.");
        }

        store.Import(_colony, records);
        return Task.CompletedTask;
    }

    /// <summary>Makes a newborn KBL (or, when a merge is called off, a retired one) serve: a leaf, or an interior KBL over the children it was born with.</summary>
    public async Task Commit(long generation)
    {
        if (State.Generation != generation || State.Role is not (KblRole.Pending or KblRole.Retired) || State.Purged)
        {
            return;
        }

        if (State.Children.Count == 0)
        {
            RequireHome("a commit"); // a leaf serves from its records
        }

        State.Role = State.Children.Count > 0 ? KblRole.Interior : KblRole.Leaf;
        await Save();
        if (State.Role == KblRole.Leaf)
        {
            LoadShard();
            store.WriteClock(_id, _clock);
        }

        StartTimer();
    }

    public async Task SetParent(string from, string to)
    {
        var current = State.Parent ?? (IsRoot ? null : _path[.._path.LastIndexOf('.')]);
        if (current == to || current != from)
        {
            return; // already done, or a stale order from a parent that is no longer this KBL's
        }

        State.Parent = to;
        await Save();
        _divisionAskedAt = null;
    }

    /// <summary>Whether <paramref name="pieces"/>, in order, tile <paramref name="range"/> exactly.</summary>
    private static bool Tiles(KeyRange range, IReadOnlyList<ChildRef> pieces)
    {
        if (!pieces[0].Range.Lo.AsSpan().SequenceEqual(range.Lo) || !SameEnd(pieces[^1].Range.Hi, range.Hi))
        {
            return false;
        }

        for (var i = 1; i < pieces.Count; i++)
        {
            if (pieces[i - 1].Range.Hi is not { } hi || !hi.AsSpan().SequenceEqual(pieces[i].Range.Lo))
            {
                return false;
            }
        }

        return true;
    }

    private static bool SameEnd(byte[]? a, byte[]? b) => a is null ? b is null : b is not null && a.AsSpan().SequenceEqual(b);
}
