namespace Kbl.Replication;

/// <summary>What became of a write.</summary>
public enum WriteOutcome
{
    /// <summary>Durable on the primary and on every copy in sync (at least the minimum number of copies).</summary>
    Acknowledged,

    /// <summary>Not written: the primary has fewer copies in sync than the minimum, or is fenced.</summary>
    Refused,

    /// <summary>
    /// Written here but not acknowledged: the primary lost its epoch (a newer one may or may not keep the write)
    /// or the copies fell below the minimum while it replicated. The client must be told it may or may not have happened.
    /// </summary>
    Unknown,
}

/// <summary>
/// The primary's side of the shard protocol (primary–backup with an in-sync replica set, as PacificA and Kafka's ISR
/// do), free of any transport; the KBL grain runs it in its turns, the simulation on virtual time. Calls must not
/// overlap (a grain turn guarantees it).
/// <list type="bullet">
/// <item>Activation takes a new epoch by conditional write of the configuration, seals every copy in sync (each
/// refuses older epochs from then on, once the read lease it granted the old primary has run out), takes the
/// longest log among them, and drops from the in-sync set the copies it cannot reach.</item>
/// <item>A write is applied here, sent to every copy in sync, and acknowledged only once all of them applied it. A
/// copy that does not answer leaves the in-sync set by conditional write before anything is acknowledged without
/// it; if that write fails, a newer primary exists and this one is fenced.</item>
/// <item>A read is served only under a lease from every copy in sync (renewed by appends, or by a heartbeat when
/// it ran out), so an old primary cannot serve a stale read once a new one could have taken writes.</item>
/// <item>A copy out of sync is brought back by <see cref="Heal"/>: from its log position when its log agrees with
/// this one, else from a snapshot streamed outside the primary's turns and then the log after it; it rejoins the
/// in-sync set inside the turn that caught it up.</item>
/// </list>
/// </summary>
public sealed class PrimaryCore(string silo, IShardLog log, IConfigRegister register, IReplicaTransport transport, ITimeSource time, ReplicationTimings timings)
{
    private readonly Dictionary<string, DateTimeOffset> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _matched = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Rebuild> _rebuilds = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();

    public ShardConfig Config { get; private set; } = new(0, "", "", [], 1);

    /// <summary>A newer epoch took over: this primary must not write or read again.</summary>
    public bool Fenced { get; private set; }

    public IShardLog Log => log;

    /// <summary>Bytes (keys + values) of the snapshots this primary installed on members (rebuilds).</summary>
    public long InstalledBytes { get; private set; }

    /// <summary>How long the snapshots counted in <see cref="InstalledBytes"/> took to stream and install.</summary>
    public TimeSpan InstalledTime { get; private set; }

    /// <summary>Copies a write reaches now: this one and the members in sync.</summary>
    public int Copies => 1 + Config.InSync.Count();

    /// <summary>Takes over the shard. False when this copy may lack acknowledged writes, or another activation won.</summary>
    public async Task<bool> Activate()
    {
        var current = await register.Read();
        if (!current.IsComplete(silo, log.Disk))
        {
            return false;
        }

        // This silo's copy must be sealed too: as a member it may have granted the old primary a read lease.
        var toSeal = current.InSync.Select(m => m.Silo).Append(silo).Distinct(StringComparer.Ordinal).ToList();
        var members = current.Members.Where(m => m.Silo != silo).ToList();
        if (current.Primary.Length > 0 && current.Primary != silo)
        {
            members.Add(new ReplicaMember(current.Primary, current.PrimaryDisk, InSync: false));
        }

        var next = current with { Epoch = current.Epoch + 1, Primary = silo, PrimaryDisk = log.Disk, Members = members };
        if (!await register.TryReplace(current, next))
        {
            return false;
        }

        Config = next;
        var seals = await Task.WhenAll(toSeal.Select(async s => (Silo: s, Reply: await TrySeal(s))));
        if (seals.Any(s => s.Reply?.Status == SealStatus.Fenced))
        {
            Fenced = true;
            return false;
        }

        if (seals.First(s => s.Silo == silo).Reply is null)
        {
            return false; // this silo's own copy did not let itself be sealed in time
        }

        // A member that came back on another disk holds only what it took since (it may even take the whole log and
        // still lack what the shard inherited): it leaves the in-sync set, to be rebuilt and recorded on that disk.
        // (A reply naming no disk comes from a silo of an earlier version, during a rolling upgrade: taken as it is.)
        var sealedMembers = seals.Where(s => s.Silo != silo && s.Reply is not null && (string.IsNullOrEmpty(s.Reply.Disk) || s.Reply.Disk == DiskOf(s.Silo))).ToList();
        foreach (var (member, reply) in sealedMembers)
        {
            _matched[member] = reply!.AppliedSeq;
        }

        var unsealed = Config.InSync.Select(m => m.Silo).Except(sealedMembers.Select(s => s.Silo)).ToList();
        if (unsealed.Count > 0 && !await Drop(unsealed))
        {
            return false;
        }

        // The longest log among the copies that hold every acknowledged write: its tail beyond the others' holds
        // writes of the old epoch that nobody acknowledged; keeping them is as right as dropping them, and every
        // copy then agrees.
        var longest = sealedMembers.Where(s => s.Reply!.AppliedSeq > log.AppliedSeq).OrderByDescending(s => s.Reply!.AppliedSeq).Select(s => s.Silo).FirstOrDefault();
        if (longest is not null && !await TakeTail(longest))
        {
            return false;
        }

        return await Replicate() || !Fenced;
    }

    /// <summary>Writes one record (a null value deletes it) as the next entry of the log.</summary>
    public Task<(WriteOutcome Outcome, long Version)> Write(byte[] key, byte[]? value) => Write([(key, value)]);

    /// <summary>
    /// Writes records as the next entries of the log, applied here and sent to the copies in one round (group
    /// commit); the version is the first entry's (the others follow it one by one). The round starts before the
    /// entries are applied here, so the local write (a sync to disk with SyncWrites) and the round trip overlap
    /// instead of adding up, as a PacificA or Kafka leader's do: a copy may then hold entries this one does not
    /// (this silo died, or its write failed, in between), as it may after any crash of a primary mid-round; the next
    /// primary takes the longest log among the copies, and the write's outcome is unknown.
    /// </summary>
    public async Task<(WriteOutcome Outcome, long Version)> Write(IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        if (Fenced || Copies < Config.MinCopies)
        {
            return (WriteOutcome.Refused, 0);
        }

        var at = log.Position;
        if (at.Sealed != Config.Epoch)
        {
            Fenced = true; // a newer primary sealed this silo's own copy: nothing goes out
            return (WriteOutcome.Refused, 0);
        }

        var first = at.Applied + 1;
        var entries = records.Select((r, i) => new LogEntry(first + i, Config.Epoch, r.Key, r.Value)).ToList();
        var sent = time.Now;
        var ahead = SendAhead(at, entries);
        bool applied;
        try
        {
            applied = log.Apply(Config.Epoch, entries);
        }
        catch (Exception e) when (ahead.Count > 0)
        {
            // Whatever the copies answer, this primary must not go on in this epoch: a copy may hold (or, from a late
            // copy of the append, still take) entries this log lacks, and the next write would give their positions
            // other entries. The next activation takes the longest log.
            Fenced = true;
            WriteFailure = e;
            if (await AllRefusedForGood(ahead))
            {
                throw;
            }

            return (WriteOutcome.Unknown, first);
        }

        if (!applied)
        {
            Fenced = true; // a newer primary sealed this silo's own copy meanwhile
            return await AllRefusedForGood(ahead) ? (WriteOutcome.Refused, 0) : (WriteOutcome.Unknown, first);
        }

        return (await Replicate(sent: sent, ahead: ahead) ? WriteOutcome.Acknowledged : WriteOutcome.Unknown, first);
    }

    /// <summary>
    /// Sends <paramref name="entries"/> (the next ones after this copy's position <paramref name="at"/>, not yet applied
    /// here) to every copy in sync whose log reaches exactly as far: the first append of the round to each.
    /// </summary>
    private Dictionary<string, Sent> SendAhead(CopyPosition at, List<LogEntry> entries)
    {
        var ahead = new Dictionary<string, Sent>(StringComparer.Ordinal);
        var from = at.Applied;
        var prevEpoch = at.KnownEpochAt(from)!.Value; // 0 at seq 0, as every copy answers there, whatever epoch its log restarted in
        var request = new AppendRequest(Config.Epoch, silo, from, prevEpoch, entries.Count <= timings.CatchUpBatch ? entries : entries[..timings.CatchUpBatch], false);
        foreach (var member in Config.InSync.Select(m => m.Silo).Where(m => _matched.GetValueOrDefault(m, from) == from))
        {
            ahead[member] = new Sent(from, transport.Append(member, request));
        }

        return ahead;
    }

    /// <summary>
    /// Whether every append sent ahead was refused by a copy sealed for a newer epoch, which never takes this epoch's
    /// entries (any other answer, an error or silence included, may mean the copy took them or still will).
    /// </summary>
    private static async Task<bool> AllRefusedForGood(Dictionary<string, Sent> ahead)
    {
        var refused = true;
        foreach (var (_, reply) in ahead.Values)
        {
            try
            {
                refused &= (await reply).Status == AppendStatus.Fenced;
            }
            catch
            {
                refused = false;
            }
        }

        return refused;
    }

    /// <summary>Whether this primary may serve a read now: it holds a lease from every copy in sync (renewed here if it ran out).</summary>
    public async Task<bool> EnsureReadLease()
    {
        if (Fenced)
        {
            return false;
        }

        var now = time.Now;
        if (Config.InSync.All(m => _leases.TryGetValue(m.Silo, out var until) && now < until))
        {
            return true;
        }

        await Replicate();
        return !Fenced;
    }

    /// <summary>
    /// Brings a member that is out of sync back: seals it, catches it up from its log position, and marks it in
    /// sync. A member whose log forked or is on another disk is rebuilt first: once the silo gives the rebuild a turn,
    /// a snapshot of this copy, taken then, is streamed to it outside this primary's turns (writes go on meanwhile),
    /// and a later call catches it up from the snapshot's position. True when it is in sync now; false while it is still being rebuilt.
    /// </summary>
    public async Task<bool> Heal(string member)
    {
        if (Fenced || Config.Members.FirstOrDefault(m => m.Silo == member) is not { InSync: false } entry ||
            _rebuilds.TryGetValue(member, out var streaming) && !streaming.Installed.IsCompleted)
        {
            return false;
        }

        var seal = await TrySeal(member);
        if (seal is null)
        {
            return false;
        }

        if (seal.Status == SealStatus.Fenced)
        {
            Fenced = true;
            return false;
        }

        string disk;
        try
        {
            disk = await transport.Disk(member);
            bool agrees;
            if (_rebuilds.Remove(member, out var rebuild) && await Finished(rebuild) is { Bytes: >= 0 } installed && rebuild.Disk == disk && rebuild.Epoch == Config.Epoch)
            {
                // Its copy is the snapshot this primary sent it (sealed for this epoch since, so nothing else wrote
                // it): it follows from the snapshot's position, if this log still reaches back there.
                InstalledBytes += installed.Bytes;
                InstalledTime += installed.Took;
                agrees = seal.AppliedSeq == installed.AppliedSeq && Reaches(seal.AppliedSeq);
            }
            else
            {
                agrees = disk == entry.Disk && seal.AppliedSeq <= log.AppliedSeq && log.EpochAt(seal.AppliedSeq) == seal.LastEpoch && Reaches(seal.AppliedSeq);
            }

            if (!agrees)
            {
                var cancel = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                _rebuilds[member] = new Rebuild(disk, Config.Epoch, Stream(member, Config.Epoch, cancel), cancel);
                return false;
            }

            _matched[member] = seal.AppliedSeq;
        }
        catch (ReplicaUnreachableException)
        {
            return false;
        }

        var sent = time.Now;
        switch (await AppendTo(member))
        {
            case Reach.InSync:
                break;
            case Reach.Fenced:
                Fenced = true;
                return false;
            default:
                return false;
        }

        var next = Config with { Members = [.. Config.Members.Select(m => m.Silo == member ? m with { InSync = true, Disk = disk } : m)] };
        if (!await register.TryReplace(Config, next))
        {
            Fenced = true;
            return false;
        }

        Config = next;
        _leases[member] = sent + (timings.Lease * (1 - timings.Drift));
        return true;
    }

    /// <summary>What a finished rebuild installed (bytes -1 when nothing); its cancellation is released.</summary>
    private static async Task<Installed> Finished(Rebuild rebuild)
    {
        using (rebuild.Cancel)
        {
            return await rebuild.Installed;
        }
    }

    /// <summary>Why this copy could not take a write after its round went out (which fenced this primary), for the log.</summary>
    public Exception? WriteFailure { get; private set; }

    /// <summary>The last rebuild that failed for another reason than an unreachable member or a stop (a bug, a full disk), for the log.</summary>
    public Exception? RebuildFailure { get; set; }

    /// <summary>
    /// Whether this primary's rebuilds stream at once, without waiting for a turn of the silo (a merge's copy, which
    /// the merging KBL waits for in its turn, holding its requests).
    /// </summary>
    public bool UrgentRebuilds { get; set; }

    /// <summary>Members being rebuilt from a snapshot now (streams under way or waiting for their turn).</summary>
    public int Rebuilding => _rebuilds.Values.Count(r => !r.Installed.IsCompleted);

    /// <summary>Completes when one of the rebuilds under way ends: true when it installed its snapshot (false at once when none is under way).</summary>
    public async Task<bool> AnyRebuildEnds() => _rebuilds.Values.Where(r => !r.Installed.IsCompleted).Select(r => r.Installed).ToList() is { Count: > 0 } streams
        && (await await Task.WhenAny(streams)).Bytes >= 0;

    /// <summary>Stops the rebuilds under way (this primary is done: fenced, forgotten or deactivating).</summary>
    public void Stop() => _stop.Cancel();

    /// <summary>
    /// Streams a snapshot to a member once this silo gives the rebuild its turn; the snapshot is taken then (writes
    /// made while it waited are in it, not in the catch-up after it). Bytes -1 when it was refused, cut short,
    /// stopped, or failed in any way (a later call of <see cref="Heal"/> starts another).
    /// </summary>
    private async Task<Installed> Stream(string member, long epoch, CancellationTokenSource cancel)
    {
        var started = time.Now;
        try
        {
            using var turn = await transport.RebuildTurn(UrgentRebuilds, cancel.Token);
            cancel.Token.ThrowIfCancellationRequested();
            if (Fenced || Config.Epoch != epoch)
            {
                return new(-1, TimeSpan.Zero, 0);
            }

            using var snapshot = log.Snapshot();
            started = time.Now;
            return new(await transport.Install(member, epoch, snapshot, cancel.Token), time.Now - started, snapshot.AppliedSeq);
        }
        catch (Exception e)
        {
            RebuildFailure = e is ReplicaUnreachableException or OperationCanceledException ? RebuildFailure : e;
            return new(-1, time.Now - started, 0);
        }
    }

    /// <summary>Adds a silo as a new member out of sync (it is then built by <see cref="Heal"/>).</summary>
    public async Task<bool> AddMember(string member)
    {
        if (Fenced || member == silo || Config.Members.Any(m => m.Silo == member))
        {
            return false;
        }

        return await Reconfigure(Config with { Members = [.. Config.Members, new ReplicaMember(member, "", InSync: false)] }, []);
    }

    /// <summary>
    /// Sends every copy in sync what it lacks (a heartbeat when nothing): one whose silo is gone leaves the in-sync
    /// set now, not at the next write. False when fewer copies than the minimum are in sync, or fenced.
    /// </summary>
    public Task<bool> Heartbeat() => Fenced ? Task.FromResult(false) : Replicate();

    /// <summary>
    /// Before this primary hands its shard to another silo: brings every copy in sync up to the whole log (writes
    /// applied here but not yet acknowledged included) and gives back the read leases they granted, so the next
    /// primary seals them without waiting. True when
    /// <paramref name="successor"/> is still in sync (it holds exactly this copy) on the disk the configuration names
    /// for it (a copy that took the log on a new disk would not be taken for a complete one there) and this primary
    /// is not fenced. Whatever it answers, this primary must serve nothing more in its epoch: a late copy of a
    /// release could cut short a lease it renewed (its KBL starts a new one).
    /// </summary>
    public async Task<bool> Release(string successor)
    {
        if (Fenced)
        {
            return false;
        }

        await Replicate(release: true);
        if (Fenced || Config.InSync.All(m => m.Silo != successor))
        {
            return false;
        }

        if (!await OnSameDisk(successor))
        {
            await Drop([successor]); // in sync on a disk the configuration does not name: rebuilt, and recorded there, by the next heal
            return false;
        }

        return true;
    }

    /// <summary>Takes a member out of the replica set (a silo gone for good, or one copy too many).</summary>
    public Task<bool> RemoveMember(string member)
    {
        if (_rebuilds.Remove(member, out var rebuild))
        {
            rebuild.Cancel.Cancel(); // its stream stops taking the silo's rebuild budget
        }

        return Config.Members.Any(m => m.Silo == member)
            ? Reconfigure(Config with { Members = [.. Config.Members.Where(m => m.Silo != member)] }, [member])
            : Task.FromResult(false);
    }

    /// <summary>Changes how many copies a write must reach (the genome changed).</summary>
    public Task<bool> SetMinCopies(int minCopies) =>
        Config.MinCopies != minCopies ? Reconfigure(Config with { MinCopies = minCopies }, []) : Task.FromResult(false);

    /// <summary>
    /// Sends every copy in sync what it lacks of the log (a heartbeat when nothing), renewing its lease. Copies that
    /// do not answer, or whose log forked, leave the in-sync set. True when every copy still in sync has the whole
    /// log and they are enough copies.
    /// </summary>
    private async Task<bool> Replicate(bool release = false, DateTimeOffset? sent = null, Dictionary<string, Sent>? ahead = null)
    {
        var members = Config.InSync.Select(m => m.Silo).ToList();
        var since = sent ?? time.Now;
        var results = await Task.WhenAll(members.Select(async m => (Member: m, Reach: await AppendTo(m, release, ahead?.GetValueOrDefault(m)))));
        if (results.Any(r => r.Reach == Reach.Fenced))
        {
            Fenced = true;
            return false;
        }

        if (release)
        {
            _leases.Clear();
        }
        else
        {
            foreach (var (member, _) in results.Where(r => r.Reach == Reach.InSync))
            {
                _leases[member] = since + (timings.Lease * (1 - timings.Drift));
            }
        }

        var lost = results.Where(r => r.Reach != Reach.InSync).Select(r => r.Member).ToList();
        if (lost.Count > 0 && !await Drop(lost))
        {
            return false;
        }

        return Copies >= Config.MinCopies;
    }

    /// <summary>
    /// Appends to one member until it holds the whole log (giving its lease back with <paramref name="release"/>),
    /// starting from the append <paramref name="ahead"/> when one was sent before the entries were applied here.
    /// </summary>
    private async Task<Reach> AppendTo(string member, bool release = false, Sent? ahead = null)
    {
        var resealed = false;
        while (true)
        {
            long from;
            Task<AppendReply>? pending = null;
            if (ahead is { } sent)
            {
                (from, pending, ahead) = (sent.From, sent.Reply, null);
            }
            else
            {
                from = Math.Min(_matched.GetValueOrDefault(member, log.AppliedSeq), log.AppliedSeq);
            }

            AppendReply reply;
            try
            {
                if (pending is null)
                {
                    var entries = log.After(from, timings.CatchUpBatch);
                    if (log.EpochAt(from) is not { } prevEpoch || (from < log.AppliedSeq && (entries.Count == 0 || entries[0].Seq != from + 1)))
                    {
                        return Reach.Forked; // this log no longer reaches back that far: the member needs a rebuild
                    }

                    pending = transport.Append(member, new AppendRequest(Config.Epoch, silo, from, prevEpoch, entries, release));
                }

                reply = await pending;
            }
            catch (ReplicaUnreachableException)
            {
                return Reach.Lost;
            }

            switch (reply.Status)
            {
                case AppendStatus.Ok:
                    _matched[member] = reply.AppliedSeq;
                    if (reply.AppliedSeq >= log.AppliedSeq)
                    {
                        return Reach.InSync;
                    }

                    if (reply.AppliedSeq <= from)
                    {
                        return Reach.Lost; // no progress
                    }

                    break;
                case AppendStatus.Gap when reply.AppliedSeq < from:
                    _matched[member] = reply.AppliedSeq;
                    break;
                case AppendStatus.Unsealed when !resealed:
                    resealed = true;
                    if (await TrySeal(member) is not { Status: SealStatus.Sealed } seal)
                    {
                        return Reach.Lost;
                    }

                    // A copy that lost its seal may have lost its disk: on another disk it is rebuilt (Heal records the new disk).
                    if (string.IsNullOrEmpty(seal.Disk) ? !await OnSameDisk(member) : seal.Disk != DiskOf(member))
                    {
                        return Reach.Forked;
                    }

                    _matched[member] = seal.AppliedSeq;
                    break;
                case AppendStatus.Fenced:
                    return Reach.Fenced;
                case AppendStatus.Diverged:
                    return Reach.Forked;
                default:
                    return Reach.Lost;
            }
        }
    }

    /// <summary>The disk the configuration names for a member's copy (null when it is not a member).</summary>
    private string? DiskOf(string member) => Config.Members.FirstOrDefault(m => m.Silo == member)?.Disk;

    /// <summary>Whether a member's copy is still on the disk the configuration names for it (false when it cannot say).</summary>
    private async Task<bool> OnSameDisk(string member)
    {
        try
        {
            return await transport.Disk(member) == DiskOf(member);
        }
        catch (ReplicaUnreachableException)
        {
            return false;
        }
    }

    /// <summary>Whether this log still holds every entry after <paramref name="seq"/> (a copy there can catch up from it).</summary>
    private bool Reaches(long seq) => seq == log.AppliedSeq || log.After(seq, 1) is [{ } next] && next.Seq == seq + 1;

    /// <summary>Seals a copy for this epoch, waiting out the read lease it granted an older primary. Null when it cannot be reached in time.</summary>
    private async Task<SealReply?> TrySeal(string member)
    {
        var deadline = time.Now + timings.SealTimeout;
        while (true)
        {
            SealReply reply;
            try
            {
                reply = await transport.Seal(member, new SealRequest(Config.Epoch, silo));
            }
            catch (ReplicaUnreachableException)
            {
                return null;
            }

            if (reply.Status != SealStatus.Wait)
            {
                return reply;
            }

            if (time.Now + reply.Wait > deadline)
            {
                return null;
            }

            await time.Delay(reply.Wait);
        }
    }

    /// <summary>Takes the log entries a longer copy has beyond this one.</summary>
    private async Task<bool> TakeTail(string longest)
    {
        try
        {
            while (true)
            {
                var entries = await transport.Fetch(longest, log.AppliedSeq, timings.CatchUpBatch);
                if (entries.Count == 0)
                {
                    return true;
                }

                if (entries[0].Seq != log.AppliedSeq + 1)
                {
                    return false;
                }

                if (!log.Apply(Config.Epoch, entries))
                {
                    Fenced = true;
                    return false;
                }
            }
        }
        catch (ReplicaUnreachableException)
        {
            return false;
        }
    }

    /// <summary>Takes members out of the in-sync set by conditional write; false (and fenced) when a newer primary changed the configuration.</summary>
    private Task<bool> Drop(IReadOnlyCollection<string> members) =>
        Reconfigure(Config with { Members = [.. Config.Members.Select(m => members.Contains(m.Silo) ? m with { InSync = false } : m)] }, members);

    /// <summary>Replaces the configuration by conditional write, forgetting what this primary knew of <paramref name="forgotten"/>; false (and fenced) when a newer primary changed it.</summary>
    private async Task<bool> Reconfigure(ShardConfig next, IReadOnlyCollection<string> forgotten)
    {
        if (Fenced || !await register.TryReplace(Config, next))
        {
            Fenced = true;
            return false;
        }

        Config = next;
        foreach (var member in forgotten)
        {
            _leases.Remove(member);
            _matched.Remove(member);
        }

        return true;
    }

    /// <summary>An append sent to a member before its entries were applied here: the position it follows, and its reply.</summary>
    private sealed record Sent(long From, Task<AppendReply> Reply);

    /// <summary>A snapshot streamed to a member on <paramref name="Disk"/> for <paramref name="Epoch"/>.</summary>
    private sealed record Rebuild(string Disk, long Epoch, Task<Installed> Installed, CancellationTokenSource Cancel);

    /// <summary>What a rebuild installed: its bytes (or -1), how long it streamed, and the position of its snapshot.</summary>
    private readonly record struct Installed(long Bytes, TimeSpan Took, long AppliedSeq);

    /// <summary>How an append round with one member ended.</summary>
    private enum Reach
    {
        /// <summary>It holds the whole log.</summary>
        InSync,

        /// <summary>No answer in time, or no progress.</summary>
        Lost,

        /// <summary>Its log forked from this one, or this one no longer reaches back to where it is: it needs a rebuild.</summary>
        Forked,

        /// <summary>A newer epoch sealed it.</summary>
        Fenced,
    }
}
