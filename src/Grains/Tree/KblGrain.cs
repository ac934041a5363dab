using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Provisioning;
using Kbl.Records;
using Kbl.Storage;
using Kbl.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Placement;

namespace Kbl.Tree;

/// <summary>
/// One KBL. A leaf serves its shard from the silo's record store; over its genome's split thresholds it divides
/// into children of this same class and becomes an interior KBL that routes, aggregates and, when its children
/// go cold, fuses them back. Calls are not interleaved, so a split or merge is atomic for every request.
/// </summary>
[GrainType("kbl")]
[KblPlacement]
public sealed class KblGrain(
    [PersistentState(KblStorage.KblStateName, KblStorage.Name)] IPersistentState<KblState> state,
    RecordStore store,
    SiloIdentity silo,
    ILocalSiloDetails localSilo,
    LocalKbls local,
    ClusterLoad load,
    KblMetrics metrics,
    IOptions<KblOptions> options,
    IOptions<KblPlacementOptions> placement,
    TimeProvider time,
    ILogger<KblGrain> logger) : Grain, IKblGrain, ILocalKbl
{
    private const int TransferBatch = 512;
    private readonly FeedbackMeter _meter = new();
    private readonly Dictionary<string, (Feedback Feedback, DateTimeOffset At)> _childFeedback = [];
    private readonly TimeSpan _period = options.Value.FeedbackPeriod;
    private string _colony = "";
    private string _path = "";
    private string _id = "";
    private long _clock;
    private long _keys;
    private long _bytes;
    private bool _displaced;
    private bool _relocated;
    private bool _unsplittable;
    private DateTimeOffset? _coldSince;
    private DateTimeOffset? _lastTick;
    private bool _splitByLoad;
    private volatile string _nodeGroup = "";
    private KblRole _role;
    private int _depth;
    private IGrainTimer? _timer;

    private KblState S => state.State;

    private bool IsRoot => _path == ColonyNames.RootPath;

    private bool HoldsRecords => S.Role is KblRole.Leaf or KblRole.Pending or KblRole.Retired;

    string ILocalKbl.Id => _id;

    string ILocalKbl.Colony => _colony;

    int ILocalKbl.Depth => _depth;

    // Read by the silo from outside the grain's turn, so from copies, never from the grain state.
    KblRole ILocalKbl.Role => _role;

    string ILocalKbl.NodeGroup => _nodeGroup;

    long ILocalKbl.Keys => _keys;

    long ILocalKbl.Bytes => _bytes;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _id = this.GetPrimaryKeyString();
        (_colony, _path) = ColonyNames.Parse(_id);
        Publish();
        local.Add(this);
        if (S.Role == KblRole.None)
        {
            return;
        }

        if (HoldsRecords && S.Home is not null && S.Home != silo.Name)
        {
            // Our records are on another silo's disk: serving from here would answer from an empty shard.
            _displaced = true;
            KblLog.Displaced(logger, _id, S.Home, silo.Name);
            return;
        }

        S.Home = silo.Name;
        S.Epoch++;
        await Save();
        if (HoldsRecords)
        {
            LoadShard();
        }

        if (S.Transition is { Kind: TransitionKind.Split })
        {
            await CompleteSplit();
        }
        else if (S.Transition is { Kind: TransitionKind.Merge })
        {
            await CompleteMerge();
        }

        StartTimer();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        local.Remove(this);
        return Task.CompletedTask;
    }

    // ---------------- colony ----------------

    public async Task<Genome> Configure(Genome genome)
    {
        if (!IsRoot)
        {
            throw new InvalidOperationException("Only a colony's root is configured.");
        }

        if (S.Role != KblRole.None)
        {
            await UpdateGenome(genome);
            if (genome.NodeGroup != S.Genome.NodeGroup && (await Move(genome.NodeGroup)).Error is { } error)
            {
                throw new NodeGroupUnavailableException(genome.NodeGroup);
            }

            return genome;
        }

        if (placement.Value.WhenGroupMissing == WhenGroupMissing.Wait && (await load.WaitForGroup(genome.NodeGroup)).Count == 0)
        {
            throw new NodeGroupUnavailableException(genome.NodeGroup);
        }

        S.Role = KblRole.Leaf;
        S.Range = KeyRange.All;
        S.Genome = genome;
        S.Home = silo.Name;
        S.Epoch++;
        S.ShapeChangedAt = time.GetUtcNow();
        await Save();
        await GrainFactory.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key).Register(_colony);
        LoadShard();
        StartTimer();
        KblLog.ColonyCreated(logger, _colony);
        if (silo.NodeGroup != genome.NodeGroup && load.SilosOfGroup(genome.NodeGroup) is { Count: > 0 } groupSilos)
        {
            // The root was activated before it knew its group: it moves there now, while it is still empty.
            await RelocateCore(silo.Name, load.PickLeastLoaded(groupSilos));
        }

        return S.Genome;
    }

    public Task<Genome?> GetGenome() => Task.FromResult(S.Role == KblRole.None ? null : S.Genome);

    public async Task UpdateGenome(Genome genome)
    {
        if (S.Role == KblRole.None)
        {
            return;
        }

        // Every KBL keeps its own node group: that changes only by a move.
        S.Genome = genome with { NodeGroup = S.Genome.NodeGroup };
        await Save();
        if (S.Role == KblRole.Interior)
        {
            await Task.WhenAll(S.Children.Select(c => Child(c.Path).UpdateGenome(genome)));
        }
    }

    // ---------------- records ----------------

    public Task<ReadResult> Get(byte[] key)
    {
        if (Refuse(key) is { } refusal)
        {
            return Task.FromResult(new ReadResult(refusal.Status, null, 0, refusal.Moved, refusal.Message));
        }

        _meter.Read(key, time.GetUtcNow());
        metrics.Operation(_colony, "get");
        var record = store.Get(_colony, key);
        return Task.FromResult(record is null
            ? new ReadResult(KblStatus.NotFound, null, 0, null)
            : new ReadResult(KblStatus.Ok, record.Value, record.Version, null));
    }

    public Task<WriteResult> Put(byte[] key, byte[] value, Precondition condition) => Write(key, value, condition);

    public Task<WriteResult> Delete(byte[] key, Precondition condition) => Write(key, null, condition);

    public Task<ScanPage> Scan(byte[] from, bool exclusive, byte[]? to, int limit)
    {
        if (Refuse(from) is { } refusal)
        {
            return Task.FromResult(new ScanPage(refusal.Status, [], null, refusal.Moved, refusal.Message));
        }

        _meter.Touch(time.GetUtcNow());
        var end = S.Range.Hi is null || (to is not null && KeyOrder.Compare(to, S.Range.Hi) < 0) ? to : S.Range.Hi;
        var records = store.Scan(_colony, from, exclusive, end).Take(limit).ToList();
        return Task.FromResult(new ScanPage(KblStatus.Ok, records, S.Range.Hi, null));
    }

    private async Task<WriteResult> Write(byte[] key, byte[]? value, Precondition condition)
    {
        if (Refuse(key) is { } refusal)
        {
            return new WriteResult(refusal.Status, 0, refusal.Moved, refusal.Message);
        }

        var current = store.Get(_colony, key);
        if (!condition.Holds(current?.Version))
        {
            return new WriteResult(KblStatus.PreconditionFailed, current?.Version ?? 0, null);
        }

        if (value is null && current is null)
        {
            return new WriteResult(KblStatus.NotFound, 0, null);
        }

        var version = ++_clock;
        store.Write(_colony, key, value, version, _id, _clock);
        _meter.Write(key, time.GetUtcNow());
        metrics.Operation(_colony, value is null ? "delete" : "put");
        _keys += (value is null ? 0 : 1) - (current is null ? 0 : 1);
        _bytes += (value is null ? 0 : key.Length + value.Length) - (current is null ? 0 : key.Length + current.Value.Length);
        if (!_unsplittable && (_keys > S.Genome.SplitKeys || _bytes > S.Genome.SplitBytes))
        {
            await Split(byLoad: false);
        }

        return new WriteResult(KblStatus.Ok, version, null);
    }

    /// <summary>Why this KBL will not serve <paramref name="key"/>, or null when it will.</summary>
    private Refusal? Refuse(byte[] key)
    {
        if (_relocated)
        {
            return new Refusal(KblStatus.Moved, Moved.WalkFromRoot(S.Epoch), null);
        }

        if (_displaced)
        {
            // Activated away from the records (a caller's stale route to an old activation does that): go home
            // if it is up and have the caller retry; otherwise refuse rather than answer from an empty shard.
            if (MigrateHome())
            {
                return new Refusal(KblStatus.Moved, Moved.WalkFromRoot(S.Epoch), null);
            }

            DeactivateOnIdle();
            return new Refusal(KblStatus.Unavailable, null, $"KBL {_id} keeps its records on silo '{S.Home}', which is not up");
        }

        return S.Role switch
        {
            KblRole.None when IsRoot => new Refusal(KblStatus.NoColony, null, $"colony '{_colony}' does not exist"),
            KblRole.Interior => new Refusal(KblStatus.Moved, new Moved(S.Epoch, S.Children), null),
            KblRole.Leaf when S.Range.Contains(key) => null,
            _ => new Refusal(KblStatus.Moved, Moved.WalkFromRoot(S.Epoch), null),
        };
    }

    // ---------------- subtree operations ----------------

    public async Task<AggregatePartial> Aggregate(AggregateQuery query)
    {
        if (_displaced)
        {
            return AggregatePartial.Empty with { Status = KblStatus.Unavailable, Message = Refuse(query.From)!.Message };
        }

        switch (S.Role)
        {
            case KblRole.Leaf:
                _meter.Touch(time.GetUtcNow());
                var from = KeyOrder.Compare(query.From, S.Range.Lo) > 0 ? query.From : S.Range.Lo;
                var to = S.Range.Hi is null || (query.To is not null && KeyOrder.Compare(query.To, S.Range.Hi) < 0) ? query.To : S.Range.Hi;
                return to is not null && KeyOrder.Compare(from, to) >= 0
                    ? AggregatePartial.Empty with { Leaves = 1 }
                    : AggregateEvaluator.Evaluate(store.Scan(_colony, from, exclusive: false, to), query);
            case KblRole.Interior:
                var parts = await Task.WhenAll(S.Children
                    .Where(c => c.Range.Overlaps(query.From, query.To))
                    .Select(c => Child(c.Path).Aggregate(query)));
                return parts.Aggregate(AggregatePartial.Empty, (a, b) => a.Combine(b));
            case KblRole.None when IsRoot:
                return AggregatePartial.Empty with { Status = KblStatus.NoColony, Message = $"colony '{_colony}' does not exist" };
            default:
                return AggregatePartial.Empty with { Status = KblStatus.Moved };
        }
    }

    public async Task<KblView> GetTree()
    {
        if (S.Role != KblRole.Interior)
        {
            return View(OwnFeedback(), []);
        }

        var children = await Task.WhenAll(S.Children.Select(c => Child(c.Path).GetTree()));
        var rollup = children.Aggregate(Feedback.Empty, (sum, c) => sum.Add(c.Feedback));
        return View(rollup with { Depth = rollup.Depth + 1 }, children);
    }

    private KblView View(Feedback feedback, IReadOnlyList<KblView> children) =>
        new(_id, _path, S.Range, S.Role, S.Depth, S.Epoch, silo.Name, S.Genome.NodeGroup, feedback, children);

    // ---------------- feedback ----------------

    public Task ReportFeedback(string childPath, Feedback feedback)
    {
        _childFeedback[childPath] = (feedback, time.GetUtcNow());
        return Task.CompletedTask;
    }

    private Feedback OwnFeedback() => S.Role switch
    {
        KblRole.Leaf => new Feedback(_meter.ReadsPerSecond, _meter.WritesPerSecond, _keys, _bytes, _meter.LastAccess, 1, 0),
        KblRole.Interior => Rollup(),
        _ => Feedback.Empty,
    };

    /// <summary>The sum of the children's last reports.</summary>
    private Feedback Rollup()
    {
        var sum = ChildReports().Aggregate(Feedback.Empty, (total, child) => total.Add(child.Feedback));
        return sum with { Depth = sum.Depth + 1 };
    }

    /// <summary>Each child's last report; the rates of a child silent for three periods count as zero.</summary>
    private IEnumerable<(string Path, Feedback Feedback)> ChildReports()
    {
        var now = time.GetUtcNow();
        foreach (var child in S.Children)
        {
            if (_childFeedback.TryGetValue(child.Path, out var report))
            {
                yield return (child.Path, now - report.At > 3 * _period ? report.Feedback with { ReadsPerSecond = 0, WritesPerSecond = 0 } : report.Feedback);
            }
        }
    }

    /// <summary>The root's report to the provisioning grain: the colony's roll-up and each top-level subtree's.</summary>
    private ColonyDemand Demand(Feedback total)
    {
        var subtrees = S.Role != KblRole.Interior ? [] : ChildReports()
            .Select(c => new SubtreeDemand(c.Path, c.Feedback.OpsPerSecond, c.Feedback.Bytes, c.Feedback.Leaves))
            .ToList();

        // Each KBL needs one silo until records are kept on several (redundancy): the floor is one node.
        return new ColonyDemand(_colony, S.Genome.NodeGroup, total.OpsPerSecond, total.Bytes, total.Leaves, RedundancyFloor: 1, subtrees);
    }

    private void StartTimer() =>
        _timer ??= this.RegisterGrainTimer(OnFeedbackTick, new GrainTimerCreationOptions(_period, _period) { Interleave = false });

    private async Task OnFeedbackTick(CancellationToken cancellationToken)
    {
        if (_displaced)
        {
            return;
        }

        if (S.Role == KblRole.Leaf)
        {
            // Rates over the time that really passed: a tick delayed by a long turn must not inflate them.
            var now = time.GetUtcNow();
            _meter.Tick(_lastTick is { } last && now > last ? now - last : _period);
            _lastTick = now;
            _unsplittable = false;
        }

        var feedback = OwnFeedback();
        if (!IsRoot && S.Role is KblRole.Leaf or KblRole.Interior)
        {
            _ = Parent().ReportFeedback(_path, feedback);
        }
        else if (IsRoot && S.Role is KblRole.Leaf or KblRole.Interior)
        {
            _ = GrainFactory.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key).ReportDemand(Demand(feedback));
        }

        if (S.Role == KblRole.Leaf && _meter.OpsPerSecond > S.Genome.SplitOpsPerSecond)
        {
            await Split(byLoad: true);
        }
        else if (S.Role == KblRole.Interior)
        {
            await ConsiderMerge(feedback);
        }
    }

    // ---------------- split ----------------

    private async Task Split(bool byLoad)
    {
        var items = byLoad
            ? SplitPlanner.CountAccesses(_meter.SampledKeys().Where(k => S.Range.Contains(k)))
            : store.Scan(_colony, S.Range.Lo, exclusive: false, S.Range.Hi).Select(r => (r.Key, (long)(r.Key.Length + r.Value.Length)));
        var boundaries = SplitPlanner.ChooseBoundaries(items, S.Genome.FanOut, S.Range);
        if (boundaries.Count == 0)
        {
            _unsplittable = true;
            return;
        }

        var children = S.Range.SplitAt(boundaries).Select((range, i) => new ChildRef(ColonyNames.ChildPath(_path, i), range)).ToList();
        _splitByLoad = byLoad;
        S.Epoch++;
        S.Transition = new Transition(TransitionKind.Split, S.Epoch, children);
        await Save();
        KblLog.Splitting(logger, _id, children.Count, byLoad ? "load" : "size", _keys, _bytes);
        metrics.Split(_colony, byLoad);
        await CompleteSplit();
    }

    /// <summary>Gives birth to the children, hands each its records, commits them, then becomes interior. Idempotent.</summary>
    private async Task CompleteSplit()
    {
        var transition = S.Transition!;
        var births = new List<(ChildRef Child, BirthReply Reply)>();
        var homes = ChildHomes(transition);
        RequestContext.Set(KblPlacementDirector.NodeGroupKey, S.Genome.NodeGroup);
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

                var reply = await Child(child.Path).Birth(new ChildBirth(child.Range, S.Genome, S.Depth + 1, transition.Generation, _clock, silo.Name));
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

        S.Role = KblRole.Interior;
        S.Children = [.. transition.Children];
        S.Transition = null;
        S.ShapeChangedAt = time.GetUtcNow();
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
        KblLog.Split(logger, _id, S.Epoch, string.Join(", ", S.Children.Select(c => $"{c.Path} {c.Range}")));
    }

    /// <summary>
    /// Where each child of a split should live: a size split keeps them here (their records are already on this
    /// disk); a load split spreads them over the group's silos, least loaded first, so the load spreads too.
    /// </summary>
    private SiloAddress?[] ChildHomes(Transition transition)
    {
        var homes = new SiloAddress?[transition.Children.Count];
        var group = load.SilosOfGroup(S.Genome.NodeGroup);
        if (transition.Kind == TransitionKind.Split && _splitByLoad && group.Count > 1)
        {
            // Round-robin over the group's silos, least loaded first: the hot range lands on as many silos as it can.
            var ordered = group.OrderBy(s => load.LoadOf(s).KblActivations).ThenBy(s => s, StringComparer.Ordinal).ToList();
            for (var i = 0; i < homes.Length; i++)
            {
                homes[i] = load.AddressOf(ordered[i % ordered.Count]);
            }
        }
        else if (silo.NodeGroup == S.Genome.NodeGroup)
        {
            Array.Fill(homes, localSilo.SiloAddress);
        }

        return homes;
    }

    public async Task<BirthReply> Birth(ChildBirth birth)
    {
        if (birth.Generation == S.Generation && S.Role is KblRole.Leaf or KblRole.Interior)
        {
            return new BirthReply(silo.Name, Committed: true);
        }

        if (birth.Generation < S.Generation)
        {
            throw new InvalidOperationException($"KBL {_id} is at generation {S.Generation}; a birth of generation {birth.Generation} is stale.");
        }

        if (birth.Generation > S.Generation || S.Role != KblRole.Pending)
        {
            S.Role = KblRole.Pending;
            S.Range = birth.Range;
            S.Genome = birth.Genome;
            S.Depth = birth.Depth;
            S.Generation = birth.Generation;
            S.Children = [];
            S.Transition = null;
            S.BirthClock = birth.Clock;
            S.Home = silo.Name;
            S.Epoch++;
            S.ShapeChangedAt = time.GetUtcNow();
            await Save();
            _displaced = false;
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
        if (S.Role != KblRole.Pending)
        {
            throw new InvalidOperationException($"KBL {_id} is {S.Role}; only a KBL being born imports records.");
        }

        store.Import(_colony, records);
        return Task.CompletedTask;
    }

    /// <summary>Makes a newborn child (or, when a merge is called off, a retired one) a serving leaf.</summary>
    public async Task Commit(long generation)
    {
        if (S.Generation != generation || S.Role is not (KblRole.Pending or KblRole.Retired))
        {
            return;
        }

        S.Role = KblRole.Leaf;
        await Save();
        LoadShard();
        store.WriteClock(_id, _clock);
        StartTimer();
    }

    // ---------------- merge ----------------

    private async Task ConsiderMerge(Feedback rollup)
    {
        var now = time.GetUtcNow();
        var g = S.Genome;
        var allLeaves = S.Children.All(c => _childFeedback.TryGetValue(c.Path, out var r) && r.Feedback.Depth == 0);
        var cold = allLeaves && rollup.Keys < g.MergeKeys && rollup.Bytes < g.MergeBytes && rollup.OpsPerSecond < g.MergeOpsPerSecond;
        if (!cold)
        {
            _coldSince = null;
            return;
        }

        _coldSince ??= now;
        if (now - _coldSince < g.Hysteresis || now - S.ShapeChangedAt < g.Hysteresis)
        {
            return;
        }

        S.Epoch++;
        S.Transition = new Transition(TransitionKind.Merge, S.Epoch, S.Children);
        await Save();
        KblLog.Merging(logger, _id, S.Children.Count, rollup.Keys, rollup.Bytes, rollup.OpsPerSecond);
        metrics.Merge(_colony);
        await CompleteMerge();
    }

    /// <summary>Retires the children, takes over their records, then becomes a leaf again. Idempotent.</summary>
    private async Task CompleteMerge()
    {
        var transition = S.Transition!;
        var replies = new List<(ChildRef Child, FuseReply Reply)>();
        foreach (var child in transition.Children)
        {
            replies.Add((child, await Child(child.Path).Retire(transition.Generation)));
        }

        if (replies.Any(r => !r.Reply.Retired))
        {
            // A child divided since it last reported: call the merge off and revive the ones that retired.
            foreach (var (child, _) in replies.Where(r => r.Reply.Retired))
            {
                await Child(child.Path).Commit(transition.Generation);
            }

            S.Transition = null;
            await Save();
            return;
        }

        _clock = Math.Max(Math.Max(_clock, store.ReadClock(_id)), replies.Max(r => r.Reply.Clock));
        foreach (var (child, _) in replies.Where(r => r.Reply.Silo != silo.Name))
        {
            var from = child.Range.Lo;
            var exclusive = false;
            while (true)
            {
                var page = await Child(child.Path).Export(from, exclusive, TransferBatch);
                if (page.Count == 0)
                {
                    break;
                }

                store.Import(_colony, page);
                (from, exclusive) = (page[^1].Key, true);
            }

            await Child(child.Path).Purge(transition.Generation);
        }

        store.WriteClock(_id, _clock);
        S.Role = KblRole.Leaf;
        S.Children = [];
        S.Transition = null;
        S.ShapeChangedAt = time.GetUtcNow();
        await Save();
        LoadShard();
        _meter.Reset();
        _childFeedback.Clear();
        _coldSince = null;
        KblLog.Merged(logger, _id, S.Epoch, _keys);
    }

    public async Task<FuseReply> Retire(long generation)
    {
        if (S.Role == KblRole.Retired && S.Generation == generation)
        {
            return new FuseReply(true, silo.Name, _clock);
        }

        if (S.Role != KblRole.Leaf || _displaced)
        {
            return new FuseReply(false, silo.Name, _clock);
        }

        store.WriteClock(_id, _clock);
        S.Role = KblRole.Retired;
        S.Generation = generation;
        await Save();
        return new FuseReply(true, silo.Name, _clock);
    }

    public Task<IReadOnlyList<StoredRecord>> Export(byte[] from, bool exclusive, int limit)
    {
        if (S.Role != KblRole.Retired)
        {
            throw new InvalidOperationException($"KBL {_id} is {S.Role}; only a retired KBL hands over its records.");
        }

        IReadOnlyList<StoredRecord> page = [.. store.Scan(_colony, from, exclusive, S.Range.Hi).Take(limit)];
        return Task.FromResult(page);
    }

    public Task Purge(long generation)
    {
        if (S.Role == KblRole.Retired && S.Generation == generation)
        {
            store.DeleteRange(_colony, S.Range);
            DeactivateOnIdle();
        }

        return Task.CompletedTask;
    }

    // ---------------- placement ----------------

    public async Task<MoveResult> Move(string nodeGroup)
    {
        if (S.Role is KblRole.None or KblRole.Retired)
        {
            return new MoveResult(false, 0, 0);
        }

        if (load.SilosOfGroup(nodeGroup).Count == 0 && (await load.WaitForGroup(nodeGroup)).Count == 0)
        {
            return new MoveResult(true, 0, 0, $"no silo of node group '{nodeGroup}' is up");
        }

        if (S.Genome.NodeGroup != nodeGroup)
        {
            S.Genome = S.Genome with { NodeGroup = nodeGroup };
            await Save();
        }

        var kbls = 0;
        long records = 0;
        if (S.Role == KblRole.Interior)
        {
            foreach (var result in await Task.WhenAll(S.Children.Select(c => Child(c.Path).Move(nodeGroup))))
            {
                if (result.Error is not null)
                {
                    return result;
                }

                (kbls, records) = (kbls + result.Kbls, records + result.Records);
            }
        }

        if (silo.NodeGroup != nodeGroup && load.SilosOfGroup(nodeGroup) is { Count: > 0 } targets)
        {
            var moved = await RelocateCore(silo.Name, load.PickLeastLoaded(targets));
            if (moved >= 0)
            {
                (kbls, records) = (kbls + 1, records + moved);
            }
        }

        return new MoveResult(true, kbls, records);
    }

    public Task<long> Relocate(string from, string to) => RelocateCore(from, to);

    /// <summary>
    /// Hands this KBL's records to silo <paramref name="to"/> (which first drops anything an unfinished move left
    /// there), makes it the home, drops the local copy and deactivates: the next request activates the KBL on its
    /// new home. Requests that queued meanwhile are answered with a walk from the root.
    /// </summary>
    private async Task<long> RelocateCore(string from, string to)
    {
        if (S.Home != from || from != silo.Name || to == from || _displaced || _relocated ||
            S.Transition is not null || S.Role is not (KblRole.Leaf or KblRole.Interior) || load.AddressOf(to) is null)
        {
            return -1;
        }

        long moved = 0;
        if (S.Role == KblRole.Leaf)
        {
            var agent = GrainFactory.GetGrain<ISiloAgentGrain>(to);
            await agent.BeginImport(_colony, S.Range);
            foreach (var batch in store.Scan(_colony, S.Range.Lo, exclusive: false, S.Range.Hi).Chunk(TransferBatch))
            {
                await agent.Import(_colony, batch);
                moved += batch.Length;
            }

            await agent.EndImport(_id, _clock);
        }

        S.Home = to;
        S.Epoch++;
        await Save();
        if (S.Role == KblRole.Leaf)
        {
            store.DeleteRange(_colony, S.Range);
        }

        _relocated = true;
        local.Remove(this);
        KblLog.Relocated(logger, _id, from, to, moved);
        metrics.Move(_colony);
        MigrateHome();
        return moved;
    }

    // ---------------- helpers ----------------

    /// <summary>
    /// Moves this activation to its home silo through Orleans migration (which also repoints the grain
    /// directory, so no caller's stale route re-creates it here). False when the home silo is not up.
    /// </summary>
    private bool MigrateHome()
    {
        if (S.Home is null || load.AddressOf(S.Home) is not { } home)
        {
            return false;
        }

        RequestContext.Set(IPlacementDirector.PlacementHintKey, home);
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

    private async Task Save()
    {
        await state.WriteStateAsync();
        Publish();
    }

    private void Publish()
    {
        _role = S.Role;
        _nodeGroup = S.Genome.NodeGroup;
        _depth = S.Depth;
    }

    private void LoadShard()
    {
        var (keys, bytes, maxVersion) = store.Measure(_colony, S.Range);
        (_keys, _bytes) = (keys, bytes);
        _clock = Math.Max(Math.Max(_clock, S.BirthClock), Math.Max(store.ReadClock(_id), maxVersion));
    }

    private IKblGrain Child(string path) => GrainFactory.GetGrain<IKblGrain>(ColonyNames.KblId(_colony, path));

    private IKblGrain Parent() => GrainFactory.GetGrain<IKblGrain>(ColonyNames.KblId(_colony, _path[.._path.LastIndexOf('.')]));

    private sealed record Refusal(KblStatus Status, Moved? Moved, string? Message);
}
