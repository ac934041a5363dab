using System.Diagnostics;
using Kbl.ColdTier;
using Kbl.Grains;
using Kbl.Records;

namespace Kbl.Tree;

// Hibernation: a leaf that has had no request for its genome's HibernateAfter (or is told to) seals its shard into the
// cold tier and leaves every silo disk; its next request wakes it on a silo of its node group, which ingests the
// snapshot whole. The order of the steps is what makes a crash at any point safe:
//   hibernate: export (an SST of the range, in the leaf's turn) → upload → save {Hibernation, Home = null} → drop the
//              copies (waiting for their answers), then the records here → deactivate. Until the save, the disk
//              copy is the shard (the object is an orphan, deleted at the next wake); from the save on, the snapshot
//              is, and what is left on a disk is never served: every way a silo comes to hold a range empties it first.
//   wake:      download (checked against the recorded size and SHA-256) → empty the range here, ingest, clock →
//              save {Home = here, Hibernation = null} → delete the leaf's cold objects → serve. Until the save, the
//              snapshot is the shard (another activation wakes it again, anywhere); from the save on, the disk is.
public sealed partial class KblGrain
{
    /// <summary>When this activation started: a leaf never asked anything is idle since then.</summary>
    private DateTimeOffset _activeSince;

    /// <summary>How many hibernated children an interior KBL wakes at once (an on-demand wake, an aggregate).</summary>
    private const int WakesAtOnce = 4;

    /// <summary>When an idle leaf whose hibernation failed tries again, and how many times in a row it failed.</summary>
    private (DateTimeOffset At, int Failures) _hibernateRetry;

    private bool Hibernating => State.Hibernation is not null;

    /// <summary>Whether this leaf has had no request for its genome's <c>HibernateAfter</c> (never, when that is zero).</summary>
    private bool IdleLongEnough => State.Genome.HibernateAfter > TimeSpan.Zero &&
        time.GetUtcNow() - (_meter.LastAccess ?? _activeSince) >= State.Genome.HibernateAfter;

    /// <summary>
    /// The tick's hibernation of an idle leaf. One that cannot now (away, changing shape, fenced, the cold tier
    /// unreachable) tries again later, backing off up to five minutes: each try writes the whole shard out.
    /// </summary>
    private async Task HibernateWhenIdle()
    {
        var now = time.GetUtcNow();
        if (now < _hibernateRetry.At)
        {
            return;
        }

        if ((await HibernateLeaf()).Error is not null)
        {
            var failures = _hibernateRetry.Failures + 1;
            var wait = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(5).Ticks, _period.Ticks << Math.Min(failures, 16)));
            _hibernateRetry = (now + wait, failures);
        }
    }

    public async Task<WindowResult> Hibernate()
    {
        if (State.Role == KblRole.Interior)
        {
            return WindowResult.Sum(await Task.WhenAll(State.Children.Select(c => Kbl<IKblPlacementGrain>(c.Path).Hibernate())));
        }

        return State.Role == KblRole.Leaf && !Deleting ? await HibernateLeaf() : WindowResult.NotFound;
    }

    public async Task<WindowResult> Wake()
    {
        if (State.Role == KblRole.Interior)
        {
            // A few leaves at a time: each wake reads its snapshot from the cold tier and ingests it.
            using var wakes = new SemaphoreSlim(WakesAtOnce);
            return WindowResult.Sum(await Task.WhenAll(State.Children.Select(c => Waking(wakes, () => Kbl<IKblPlacementGrain>(c.Path).Wake()))));
        }

        if (State.Role != KblRole.Leaf || Deleting)
        {
            return WindowResult.NotFound;
        }

        if (!Hibernating)
        {
            return new WindowResult(true, 0, 1);
        }

        return await WakeIfAsleep() is { } refusal
            ? new WindowResult(true, 0, 0, refusal.Message ?? $"KBL {_path} moved to a silo of its node group to wake; try again")
            : new WindowResult(true, 1, 0);
    }

    /// <summary>
    /// Seals this leaf's shard into the cold tier and leaves every silo disk (see the steps above). Refused while the
    /// leaf is not at home, changes shape, or (mirrored) cannot confirm it is its shard's primary.
    /// </summary>
    private async Task<WindowResult> HibernateLeaf()
    {
        if (Hibernating)
        {
            return new WindowResult(true, 0, 1);
        }

        if (_presence != Presence.AtHome || State.Transition is not null)
        {
            return new WindowResult(true, 0, 0, $"KBL {_path} cannot hibernate now (it is {(State.Transition is { } t ? $"in a {t.Kind.ToString().ToLowerInvariant()}" : "away from its records")}); try again");
        }

        if (await ReadFence() is { } refusal)
        {
            return new WindowResult(true, 0, 0, refusal.Message ?? $"KBL {_path} is not its shard's primary now; try again");
        }

        var started = Stopwatch.GetTimestamp();
        var file = store.StagingFile();
        try
        {
            var (records, bytes) = store.ExportShard(_colony, State.Range, file);
            var snapshot = records == 0 ? null : await coldTier.Upload($"{ColdPrefix}{State.Epoch}.sst", file);
            var before = (State.Home, State.Epoch, State.Replicas);
            var copies = State.Replicas;
            State.Hibernation = new Hibernation(snapshot, records, bytes, _clock, time.GetUtcNow());
            State.Home = null;
            State.Replicas = Forgotten(); // no copy, the epoch kept: the copies' seals stay below the next primary's
            State.Epoch++;
            DropPrimary();
            try
            {
                await Save();
            }
            catch
            {
                // Saved or not, this activation no longer knows whether the shard sleeps: the next one reads it.
                (State.Home, State.Epoch, State.Replicas) = before;
                State.Hibernation = null;
                DeactivateOnIdle();
                throw;
            }

            if (copies is not null)
            {
                // Before the records here go: a copy whose drop is lost stays until that silo holds the shard again.
                await Task.WhenAll(copies.Members.Select(m => DropCopy(m.Silo, copies.Epoch)));
            }

            store.ForgetShard(_colony, _id, State.Range);
            local.Remove(this);
            RefreshSiloView();
            _timer?.Dispose();
            _timer = null;
            metrics.Hibernated(_colony, bytes);
            KblLog.Hibernated(logger, _id, records, bytes, snapshot?.Key ?? "(empty)", Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            if (IsRoot)
            {
                ReportDemand(OwnFeedback()); // its group need keep no node for it any more
            }
            else
            {
                _ = Parent().ReportFeedback(_path, OwnFeedback()); // the parent counts it asleep from now on
            }

            DeactivateOnIdle();
            return new WindowResult(true, 1, 0);
        }
        catch (Exception e) when (e is not Orleans.Storage.InconsistentStateException)
        {
            KblLog.HibernateFailed(logger, e, _id);
            return new WindowResult(true, 0, 0, $"KBL {_path} could not hibernate: {e.Message}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// Wakes this leaf if it hibernates: on a silo of its node group it ingests its snapshot and becomes the leaf's
    /// home (see the steps above); elsewhere (its group had no silo when it was activated) it moves to one, waiting a
    /// while for one to join. Null when the leaf is awake; otherwise the refusal to answer the request with.
    /// </summary>
    private async Task<Refusal?> WakeIfAsleep()
    {
        if (State.Hibernation is not { } sleep)
        {
            return null;
        }

        var group = State.Genome.NodeGroup;
        if (silo.NodeGroup != group || local.Draining)
        {
            // Woken only on a silo of its group that stays: records ingested on a stopping silo would be stranded there.
            var silos = load.SilosOfGroup(group).Where(s => s != silo.Name).ToList() is { Count: > 0 } up ? up : await load.WaitForGroup(group);
            return silos.Count > 0 && MigrateTo(load.PickLeastLoaded(silos))
                ? new Refusal(KblStatus.Moved, Moved.WalkFromRoot(State.Epoch), null)
                : new Refusal(KblStatus.Unavailable, null, $"KBL {_id} hibernates and no silo of its node group '{group}' is up to wake it on");
        }

        var started = Stopwatch.GetTimestamp();
        var file = sleep.Snapshot is null ? null : store.StagingFile();
        try
        {
            if (file is not null)
            {
                await coldTier.Download(sleep.Snapshot!, file);
            }

            store.RestoreShard(_colony, _id, State.Range, file, sleep.Clock);
        }
        catch (Exception e)
        {
            // The next activation reads the state again (another may have woken the shard and deleted this snapshot).
            KblLog.WakeFailed(logger, e, _id);
            DeactivateOnIdle();
            return new Refusal(KblStatus.Unavailable, null, $"KBL {_id} hibernates and could not be woken now: {e.Message}");
        }
        finally
        {
            if (file is not null)
            {
                File.Delete(file); // gone already when it was ingested
            }
        }

        State.Hibernation = null;
        State.Home = silo.Name;
        State.Epoch++;
        try
        {
            await Save();
        }
        catch
        {
            // What was ingested here is a leftover nothing serves: the next activation wakes the shard again.
            (State.Hibernation, State.Home) = (sleep, null);
            DeactivateOnIdle();
            throw;
        }

        // Awake from here on, whatever follows: the clock, the silo's count and the timer first.
        _presence = Presence.AtHome;
        LoadShard();
        local.Add(this);
        _meter.Touch(time.GetUtcNow());
        StartTimer();
        RefreshSiloView();
        try
        {
            // In this turn: a hibernation that followed at once would put its snapshot under the same prefix.
            await coldTier.DeletePrefix(ColdPrefix);
        }
        catch (Exception e)
        {
            KblLog.ColdLeftovers(logger, e, _id, ColdPrefix); // an orphan (it takes space; nothing reads it), deleted at the next wake
        }

        var took = Stopwatch.GetElapsedTime(started);
        metrics.Woke(_colony, sleep.Bytes, took);
        KblLog.Woke(logger, _id, silo.Name, sleep.Records, sleep.Bytes, took.TotalMilliseconds);
        return null;
    }

    /// <summary>A call that may wake hibernated leaves, once <paramref name="wakes"/> lets it (no wait when null).</summary>
    private static async Task<T> Waking<T>(SemaphoreSlim? wakes, Func<Task<T>> call, CancellationToken cancellationToken = default)
    {
        if (wakes is null)
        {
            return await call();
        }

        await wakes.WaitAsync(cancellationToken);
        try
        {
            return await call();
        }
        finally
        {
            wakes.Release();
        }
    }

    /// <summary>Wakes a hibernated leaf, then takes the read fence: what a request must pass before it touches the records.</summary>
    private async Task<Refusal?> Ready() => await WakeIfAsleep() ?? await ReadFence();

    /// <summary>Where this KBL's snapshots go in the cold tier: under its colony's life, so a delete of the colony removes them all.</summary>
    private string ColdPrefix => $"{_colony}/{State.Incarnation}/{_path}/";
}
