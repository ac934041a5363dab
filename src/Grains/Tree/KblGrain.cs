using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;
using Kbl.Replication;
using Kbl.Storage;
using Kbl.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Kbl.Tree;

// The KBL grain's state, activation and the rule that decides whether it serves a key. Its protocols live beside
// it, one file each: KblGrain.Records (get/put/delete/scan), .Colony (configure, genome), .Aggregate (aggregate,
// tree view), .Feedback (measure, report, decide), .Split, .Merge, .Placement (move, relocate, go home) and
// .Hibernation (to the cold tier and back).

/// <summary>
/// One KBL. A leaf serves its shard from the silo's record store; over its genome's split thresholds it divides
/// into children of this same class and becomes an interior KBL that routes, aggregates and, when its children
/// go cold, merges them back. Calls are not interleaved, so a split or merge is atomic for every request.
/// </summary>
[GrainType("kbl")]
[KblPlacement]
public sealed partial class KblGrain(
    [PersistentState(KblStorage.KblStateName, KblStorage.Name)] IPersistentState<KblState> storage,
    RecordStore store,
    SiloIdentity silo,
    ILocalSiloDetails localSilo,
    LocalKbls local,
    ClusterLoad load,
    KblMetrics metrics,
    IOptions<KblOptions> options,
    IOptions<KblPlacementOptions> placement,
    IOptions<Provisioning.ProvisioningPolicyOptions> provisioning,
    ReplicationTimings timings,
    RebuildThrottle throttle,
    ColdTier.IColdTier coldTier,
    TimeProvider time,
    ILogger<KblGrain> logger) : Grain, IKblGrain, IKblTreeGrain, IKblPlacementGrain, ILocalKbl
{
    private string _colony = "";
    private string _path = "";
    private string _id = "";

    /// <summary>Whether this activation sits with its records (see <see cref="Presence"/>).</summary>
    private Presence _presence;

    /// <summary>What the silo reads of this KBL from outside its turns (load counting, rebalancing).</summary>
    private volatile SiloView _siloView = SiloView.Unknown;

    // The shard this leaf serves, measured: its version clock (every write takes ++clock), keys and bytes.
    private long _clock;
    private long _keys;
    private long _bytes;

    /// <summary>The KBL's durable metadata: role, range, children, epoch, genome, home, an unfinished transition.</summary>
    private KblState State => storage.State;

    private bool IsRoot => _path == ColonyNames.RootPath;

    /// <summary>
    /// Whether this KBL's records are on its home silo's disk: a leaf's, a retired or pending leaf's, and a merging
    /// parent's (the children's records it has taken over so far are on the disk of the silo it merges on).
    /// </summary>
    private bool HoldsRecords => State.Role is KblRole.Leaf or KblRole.Retired || (State.Role == KblRole.Pending && State.Children.Count == 0) ||
        State.Transition?.Kind == TransitionKind.Merge;

    string ILocalKbl.Id => _id;

    string ILocalKbl.Colony => _colony;

    int ILocalKbl.Height => _siloView.Height;

    KblRole ILocalKbl.Role => _siloView.Role;

    string ILocalKbl.NodeGroup => _siloView.NodeGroup;

    long ILocalKbl.Keys => _keys;

    long ILocalKbl.Bytes => _bytes;

    int ILocalKbl.MissingCopies => _siloView.MissingCopies;

    IReadOnlyList<string> ILocalKbl.InSyncCopies => _siloView.InSyncCopies;

    bool ILocalKbl.Mirrored => _siloView.Mirrored;

    bool ILocalKbl.ReadyToLeave => _siloView.ReadyToLeave;

    int ILocalKbl.HibernatedLeaves => _siloView.HibernatedLeaves;

    bool ILocalKbl.MayHibernate => _siloView.MayHibernate;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Activate();
        }
        catch
        {
            // Orleans calls OnDeactivateAsync only for an activation that started: one that failed here (its storage
            // or a seal it waited for) must not stay listed as active on this silo, reported, drained and rebalanced.
            DropPrimary();
            local.Remove(this);
            throw;
        }
    }

    private async Task Activate()
    {
        _id = this.GetPrimaryKeyString();
        (_colony, _path) = ColonyNames.Parse(_id);
        _activeSince = time.GetUtcNow();
        RefreshSiloView();
        if (Hibernating)
        {
            return; // it holds nothing on any disk: the first request that needs its records wakes it (WakeIfAsleep)
        }

        local.Add(this);
        if (State.Role == KblRole.None)
        {
            return;
        }

        if (HoldsRecords && State.Home is not null && State.Home != silo.Name)
        {
            if (!CanTakeOver() || !await TakeOver())
            {
                // Our records are on another silo's disk: serving from here would answer from an empty shard.
                _presence = Presence.Displaced;
                KblLog.Displaced(logger, _id, State.Home, silo.Name);
                return;
            }
        }

        State.Home = silo.Name;
        State.Epoch++;
        await Save();
        var mirroredCopy = State.HasMirror && State.Role is KblRole.Leaf or KblRole.Retired;
        if (mirroredCopy && LostCopy() is { } holders)
        {
            await HandOver(holders); // before anything reads this store for the KBL: it holds none of its records
            return;
        }

        if (mirroredCopy && State.Replicas?.IsComplete(silo.Name, store.DiskId) == true && store.IsReplicaCopy(_id))
        {
            // Made home where it had an in-sync replica (a hand-over, a takeover cut short): that copy is its
            // records now, before a resumed split or merge reads them.
            store.PromoteReplica(_colony, _id, State.Range);
        }

        if (HoldsRecords)
        {
            LoadShard();
        }

        if (Redundancy.Mirrored && State.Role == KblRole.Leaf && State.Transition is null)
        {
            await EnsurePrimary(); // serve again at once after a failover; a refusal is retried by the next request
        }

        StartTimer();
        await TryCompleteTransition();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        DropPrimary();
        local.Remove(this);
        return Task.CompletedTask;
    }

    /// <summary>Why this KBL will not serve <paramref name="key"/>, or null when it will.</summary>
    private Refusal? Refuse(byte[] key)
    {
        if (Deleting)
        {
            return new Refusal(KblStatus.NoColony, null, $"colony '{_colony}' is being deleted");
        }

        if (_presence == Presence.Relocated)
        {
            if (!MigrateHome())
            {
                DeactivateOnIdle(); // its new home is gone: the next activation finds out where its records are
            }

            return new Refusal(KblStatus.Moved, Moved.WalkFromRoot(State.Epoch), null);
        }

        if (_presence == Presence.Displaced && State.Role != KblRole.Retired)
        {
            // (A retired KBL serves nothing from its records: wherever it is, it sends the caller to walk from the root.)
            // Activated away from the records (a caller's stale route to an old activation does that): go home
            // if it is up, or where a copy can take over if it is not, and have the caller retry; otherwise refuse
            // rather than answer from an empty shard.
            if (MigrateWhereItServes())
            {
                return new Refusal(KblStatus.Moved, Moved.WalkFromRoot(State.Epoch), null);
            }

            DeactivateOnIdle();
            return new Refusal(KblStatus.Unavailable, null, $"KBL {_id} keeps its records on silo '{State.Home}', which is not up");
        }

        if (State.Transition is { Kind: TransitionKind.Split or TransitionKind.Merge or TransitionKind.Handoff } unfinished)
        {
            // A change of shape that failed half-way (a silo lost mid-call): serving now could take writes the
            // change would not carry over. The tick finishes it; until then the caller retries.
            return new Refusal(KblStatus.Unavailable, null, $"KBL {_id} is finishing a {unfinished.Kind.ToString().ToLowerInvariant()} that was interrupted; retry shortly");
        }

        return State.Role switch
        {
            KblRole.None when IsRoot => new Refusal(KblStatus.NoColony, null, $"colony '{_colony}' does not exist"),
            KblRole.Interior when State.Range.Contains(key) => new Refusal(KblStatus.Moved, new Moved(State.Epoch, State.Children), null),
            KblRole.Leaf when State.Range.Contains(key) => null,
            KblRole.Leaf or KblRole.Interior when State.LastDivision is { } division && division.Pieces.Any(p => p.Range.Contains(key)) =>
                new Refusal(KblStatus.Moved, new Moved(State.Epoch, division.Pieces), null), // handed over, maybe not yet routed by the parent
            _ => new Refusal(KblStatus.Moved, Moved.WalkFromRoot(State.Epoch), null),
        };
    }

    /// <summary>
    /// Throws unless this activation is with its records: a step that reads or drops them (a birth's import, a
    /// merge's export or purge) must not run where the store holds none of them, or another KBL's. The caller
    /// retries the step (its transition stays pending); this activation heads home meanwhile.
    /// </summary>
    private void RequireHome(string step)
    {
        if (_presence == Presence.AtHome)
        {
            return;
        }

        if (!MigrateHome())
        {
            DeactivateOnIdle();
        }

        throw new InvalidOperationException($"KBL {_id} keeps its records on silo '{State.Home}', not on '{silo.Name}': {step} waits until it is home");
    }

    /// <summary>Finishes a change of shape that an earlier turn or activation persisted and could not complete.</summary>
    private Task CompleteTransition() => State.Transition?.Kind switch
    {
        TransitionKind.Split => CompleteSplit(),
        TransitionKind.Merge => CompleteMerge(),
        TransitionKind.Divide => CompleteDivide(),
        TransitionKind.Handoff => CompleteHandoff(),
        TransitionKind.PushDown => CompletePushDown(),
        _ => Task.CompletedTask,
    };

    /// <summary><see cref="CompleteTransition"/>, where a failure (a KBL on a silo that is down) leaves it for the next tick.</summary>
    private async Task<bool> TryCompleteTransition()
    {
        if (State.Transition is not { } transition)
        {
            return true;
        }

        try
        {
            await CompleteTransition();
            return true;
        }
        catch (Exception e) when (IsStepFailure(e))
        {
            KblLog.TransitionPending(logger, e, _id, transition.Kind);
            if (e is InconsistentStateException)
            {
                DeactivateOnIdle(); // another activation wrote this KBL's state since: this one is stale
            }

            return false;
        }
    }

    /// <summary>
    /// A failure of one step of a change that a later try may get past: a KBL on a silo that is down or slow
    /// (Orleans' exceptions, timeouts) or away from its records (<see cref="RequireHome"/> and the steps' own checks).
    /// Where the activation goes on after it, its own storage conflict (<see cref="InconsistentStateException"/>) is
    /// left to reach Orleans, which deactivates the stale activation.
    /// </summary>
    private static bool IsStepFailure(Exception e) => e is OrleansException or TimeoutException or InvalidOperationException or SiloDrainingException;

    private async Task Save()
    {
        await storage.WriteStateAsync();
        RefreshSiloView();
    }

    /// <summary>Copies what the silo reads from other threads out of the grain state (which only this grain's turns touch).</summary>
    private void RefreshSiloView()
    {
        var rollup = State.Role == KblRole.Interior ? Rollup() : null;
        var view = ReplicasView() is { } replicas
            ? new SiloView(State.Role, State.Genome.NodeGroup, 0, Math.Max(0, replicas.Wanted - replicas.InSync), [.. replicas.Members.Where(m => m.InSync).Select(m => m.Silo)], Mirrored: true, ReadyToLeave())
            : new SiloView(State.Role, State.Genome.NodeGroup, rollup?.Depth ?? 0, 0, [], Redundancy.Mirrored && State.Role == KblRole.Leaf, ReadyToLeave: true);
        _siloView = view with
        {
            HibernatedLeaves = IsRoot ? rollup?.Hibernated ?? 0 : 0,
            MayHibernate = State.Role == KblRole.Leaf && !Hibernating && State.Genome.HibernateAfter > TimeSpan.Zero,
        };
    }

    /// <summary>Counts the shard's keys and bytes and finds its clock: never behind any version it holds.</summary>
    private void LoadShard()
    {
        var (keys, bytes, maxVersion) = store.Measure(_colony, State.Range);
        (_keys, _bytes) = (keys, bytes);
        _clock = Math.Max(Math.Max(_clock, State.BirthClock), Math.Max(store.ReadClock(_id), maxVersion));
        store.MarkWindow(_id, State.Genome.HibernateAfter > TimeSpan.Zero); // a silo that restarts wakes it to sleep (KblResumer)
    }

    /// <summary>Another KBL of this colony, through the interface <typeparamref name="T"/> of the protocol at hand.</summary>
    private T Kbl<T>(string path)
        where T : IGrainWithStringKey => GrainFactory.GetGrain<T>(ColonyNames.KblId(_colony, path));

    private IKblTreeGrain Child(string path) => Kbl<IKblTreeGrain>(path);

    private IKblTreeGrain Parent() => Kbl<IKblTreeGrain>(ParentPath);

    private sealed record Refusal(KblStatus Status, Moved? Moved, string? Message);

    private sealed record SiloView(KblRole Role, string NodeGroup, int Height, int MissingCopies, IReadOnlyList<string> InSyncCopies, bool Mirrored, bool ReadyToLeave)
    {
        /// <summary>For a colony's root, its hibernated leaves (<see cref="ILocalKbl.HibernatedLeaves"/>).</summary>
        public int HibernatedLeaves { get; init; }

        public bool MayHibernate { get; init; }

        public static readonly SiloView Unknown = new(KblRole.None, "", 0, 0, [], false, true);
    }

    /// <summary>Where this activation stands with respect to the silo holding its records.</summary>
    private enum Presence
    {
        /// <summary>On the silo that holds its records (or a KBL that holds none): it serves.</summary>
        AtHome,

        /// <summary>Activated on a silo that does not hold its records: it refuses until it migrates home.</summary>
        Displaced,

        /// <summary>Handed its records to another silo: it answers with a walk from the root until it is gone.</summary>
        Relocated,
    }
}
