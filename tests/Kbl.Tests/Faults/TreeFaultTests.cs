using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Tests.Cluster;
using Kbl.Tree;
using Xunit.Abstractions;

namespace Kbl.Tests.Faults;

/// <summary>
/// Every step of the tree's protocols under an injected fault: divisions (Divide, Birth, Commit, SetParent), merges
/// (Retire, Export, Purge) and moves between silos (Relocate and the target's BeginImport, Import, EndImport). Each
/// case arms one fault, then runs the same life of a colony on three silos: it grows past its thresholds, its KBLs
/// are spread over the silos, most keys are overwritten or deleted, and it merges back into one leaf. A lost request
/// or reply must stay invisible to clients (every write gets a definite answer); a silo that crashes mid-step (and
/// comes back with its disk) may leave writes in doubt, but never loses an acknowledged one or brings back a
/// deleted one. Either way the colony ends whole: one leaf holding exactly what the client may expect.
/// </summary>
[Collection(FaultClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class TreeFaultTests(FaultClusterFixture fixture, ITestOutputHelper output) : IDisposable
{
    /// <summary>Small thresholds, so 100 keys make a tree several levels deep, and quick merges once most keys are gone.</summary>
    private static readonly Genome Small = Genome.Default with
    {
        SplitKeys = 16,
        FanOut = 2,
        MergeKeys = 12,
        SplitOpsPerSecond = 1e9,
        MergeOpsPerSecond = 1e9,
        Hysteresis = TimeSpan.FromMilliseconds(300),
    };

    /// <summary>The steps of the protocols between KBLs (and the silo agent that takes a moving KBL's records).</summary>
    public static readonly string[] Steps =
    [
        "IKblTreeGrain.Divide", "IKblTreeGrain.Birth", "IKblTreeGrain.Commit", "IKblTreeGrain.SetParent",
        "IKblTreeGrain.Retire", "IKblTreeGrain.Export", "IKblTreeGrain.Purge",
        "IKblPlacementGrain.Relocate", "ISiloAgentGrain.BeginImport", "ISiloAgentGrain.Import", "ISiloAgentGrain.EndImport",
    ];

    public static TheoryData<string, FaultTiming> LostMessages()
    {
        var data = new TheoryData<string, FaultTiming>();
        foreach (var step in Steps)
        {
            data.Add(step, FaultTiming.Before);
            data.Add(step, FaultTiming.After);
        }

        return data;
    }

    public static TheoryData<string, FaultSide, FaultTiming> Crashes() => new()
    {
        // The KBL asked to divide or to take part in a merge dies before or after doing so.
        { "IKblTreeGrain.Divide", FaultSide.Callee, FaultTiming.After },
        { "IKblTreeGrain.Birth", FaultSide.Callee, FaultTiming.After },
        { "IKblTreeGrain.Retire", FaultSide.Callee, FaultTiming.After },
        { "IKblTreeGrain.Export", FaultSide.Callee, FaultTiming.After },
        { "IKblTreeGrain.Purge", FaultSide.Callee, FaultTiming.Before },

        // The KBL driving a step dies between it and the next.
        { "IKblTreeGrain.Birth", FaultSide.Caller, FaultTiming.After },
        { "IKblTreeGrain.Commit", FaultSide.Caller, FaultTiming.After },
        { "IKblTreeGrain.Retire", FaultSide.Caller, FaultTiming.After },
        { "IKblTreeGrain.Export", FaultSide.Caller, FaultTiming.After },

        // A move's target dies with the copy made but the move not recorded; the moving KBL dies after recording it.
        { "ISiloAgentGrain.EndImport", FaultSide.Callee, FaultTiming.After },
        { "ISiloAgentGrain.EndImport", FaultSide.Caller, FaultTiming.After },
    };

    [Theory]
    [MemberData(nameof(LostMessages))]
    public async Task A_lost_message_is_invisible_to_clients_and_loses_nothing(string step, FaultTiming timing)
    {
        var model = await Live(new Fault(step, FaultSide.Callee, timing, FaultKind.Lose));

        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
    }

    [Theory]
    [MemberData(nameof(Crashes))]
    public async Task A_silo_crash_mid_step_loses_no_acknowledged_write(string step, FaultSide side, FaultTiming timing)
    {
        var model = await Live(new Fault(step, side, timing, FaultKind.Crash) { Spared = "silo-0" });

        output.WriteLine($"{model.Acknowledged} writes acknowledged, {model.Errors.Count} in doubt");
    }

    /// <summary>The replication protocol's steps, between a mirrored leaf (the primary) and its replicas.</summary>
    public static TheoryData<string, FaultSide, FaultTiming, FaultKind> ReplicationFaults() => new()
    {
        { "IReplicaGrain.Append", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose },
        { "IReplicaGrain.Append", FaultSide.Callee, FaultTiming.After, FaultKind.Lose },
        { "IReplicaGrain.Seal", FaultSide.Callee, FaultTiming.After, FaultKind.Lose },
        { "IReplicaGrain.InstallPage", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose },
        { "IReplicaGrain.EndInstall", FaultSide.Callee, FaultTiming.After, FaultKind.Lose },

        // A division's new leaf inherits copies: a copy forked without the divider knowing (it leaves that member
        // out); the copies forked, the new leaf not told (the division is resumed later) or told without the divider
        // knowing. (Divisions run in the colony's growth, on the spared silo, before its leaves spread: a crash there
        // cannot be struck by this harness.)
        { "IReplicaGrain.Fork", FaultSide.Callee, FaultTiming.After, FaultKind.Lose },
        { "IKblTreeGrain.InheritCopies", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose },
        { "IKblTreeGrain.InheritCopies", FaultSide.Callee, FaultTiming.After, FaultKind.Lose },

        // A merge takes its leaves' copies over: a fuse that never arrives, one made without the merging KBL knowing
        // (it leaves that member out: a copy nobody reads); the member dies right after fusing; the merging KBL dies
        // with the copies fused but the merge not recorded (resumed, it fuses again, or rebuilds if its leaves'
        // copies are gone).
        { "IReplicaGrain.Fuse", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose },
        { "IReplicaGrain.Fuse", FaultSide.Callee, FaultTiming.After, FaultKind.Lose },
        { "IReplicaGrain.Fuse", FaultSide.Callee, FaultTiming.After, FaultKind.Crash },
        { "IReplicaGrain.Fuse", FaultSide.Caller, FaultTiming.After, FaultKind.Crash },

        // A replica dies mid-append; a primary dies with the write on its replica but not acknowledged.
        { "IReplicaGrain.Append", FaultSide.Callee, FaultTiming.After, FaultKind.Crash },
        { "IReplicaGrain.Append", FaultSide.Caller, FaultTiming.After, FaultKind.Crash },
        { "IReplicaGrain.EndInstall", FaultSide.Caller, FaultTiming.Before, FaultKind.Crash },
    };

    /// <summary>
    /// The same life for a mirrored colony (two copies): its leaves replicate every write while they divide, move and
    /// merge. A lost message is invisible to clients; a crash may leave writes in doubt but loses no acknowledged one.
    /// A merge fuses copies only on a silo holding a copy of each of its leaves, which two copies on three silos give
    /// by chance (where each leaf's copy went); for the fuse's faults the colony has three, one on every silo.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReplicationFaults))]
    public async Task A_mirrored_colony_loses_nothing_under_a_replication_fault(string step, FaultSide side, FaultTiming timing, FaultKind kind)
    {
        var copies = step == "IReplicaGrain.Fuse" ? 3 : 2;
        var model = await Live(new Fault(step, side, timing, kind) { Spared = kind == FaultKind.Crash ? "silo-0" : null }, Small with { Redundancy = new Redundancy(RedundancyMode.Mirror, copies, 1) });

        output.WriteLine($"{model.Acknowledged} writes acknowledged, {model.Errors.Count} in doubt");
        if (kind == FaultKind.Lose)
        {
            Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
        }
    }

    /// <summary>
    /// A leaf dividing by load spreads its new leaves over the group's silos and sends each its records
    /// (<c>IKblTreeGrain.Import</c>): that import lost before or after it is done, the new leaf's silo dying once it
    /// has the records, or the dividing leaf's own silo dying mid-way.
    /// </summary>
    public static TheoryData<FaultSide, FaultTiming, FaultKind> ImportFaults() => new()
    {
        { FaultSide.Callee, FaultTiming.Before, FaultKind.Lose },
        { FaultSide.Callee, FaultTiming.After, FaultKind.Lose },
        { FaultSide.Callee, FaultTiming.After, FaultKind.Crash },
        { FaultSide.Caller, FaultTiming.After, FaultKind.Crash },
    };

    /// <summary>
    /// A division by load that fails half-way (a new leaf's silo lost, an import lost or timed out) does not serve
    /// as a leaf with the division pending, reports no applied write as failed, and once resumed keeps the writes made
    /// after the failure and brings back no deleted key. The colony's one leaf starts on silo-1 (silo-0 holds the
    /// in-process membership and is never killed), hot enough to divide into three, one per silo.
    /// </summary>
    [Theory]
    [MemberData(nameof(ImportFaults))]
    public async Task A_load_division_whose_records_fail_to_reach_a_new_leaf_elsewhere_loses_nothing(FaultSide side, FaultTiming timing, FaultKind kind)
    {
        var fault = new Fault("IKblTreeGrain.Import", side, timing, kind) { Spared = kind == FaultKind.Crash ? "silo-0" : null };
        var (colony, root, model, keys) = await LeafOnSilo1ThatDividesByLoad();
        using var lived = new CancellationTokenSource();
        fixture.Faults.Arm(fault);
        var crash = Crash(fault, lived.Token);
        try
        {
            // Hot: every key written again and again until the fault strikes (at most a minute).
            var deadline = DateTime.UtcNow + Settle;
            for (var round = 1; !fixture.Faults.Fired.IsCompleted && DateTime.UtcNow < deadline; round++)
            {
                await WriteRound(model, keys, round);
            }

            Assert.True(fixture.Faults.Fired.IsCompleted, $"the fault ({fault}) never struck: the leaf did not divide by load onto another silo");
            await crash;

            // After the failure: most keys deleted, the rest written again.
            foreach (var (key, i) in keys.Select((k, i) => (k, i)))
            {
                await (i % 10 == 0 ? model.Put(key, $"{key}-after") : model.Delete(key));
            }

            var done = await DivisionsDone(root, model);
            Assert.True(TreeWalk.Leaves(done).Select(l => l.Silo).Distinct().Count() > 1, "the new leaves stayed on one silo");
            await model.UntilServed();
            await model.Check();
            if (kind == FaultKind.Lose)
            {
                Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
            }
        }
        catch
        {
            output.WriteLine($"Kbl's log for colony {colony}:\n{fixture.Log.Lines(colony)}");
            throw;
        }
        finally
        {
            await lived.CancelAsync();
            await crash;
        }
    }

    /// <summary>
    /// A division's new leaf that serves is moved onto the silo of the KBL that divided before that KBL drops its own
    /// copy of the leaf's range (it does so once its new KBLs serve, on the same key layout the moved records now
    /// take): the drop must not take the moved leaf's records, its only copy. The division's last commit is held
    /// while the move runs: the root's, a leaf dividing into children under it; or, once it is interior, that of its
    /// leaf on silo-1 dividing into siblings.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_new_leaf_moved_onto_the_dividing_silo_before_the_old_copy_is_dropped_keeps_its_records(bool rootDivides)
    {
        var (colony, root, model, keys) = await LeafOnSilo1ThatDividesByLoad();
        var (dividing, hot) = (root.GetPrimaryKeyString(), keys);
        if (!rootDivides)
        {
            // Hot everywhere until the root has divided, then only in its new leaf on silo-1.
            for (var round = 1; (await root.GetTree(0, hotPath: false)).Role != KblRole.Interior; round++)
            {
                await WriteRound(model, keys, round);
            }

            var leaf = TreeWalk.Leaves(await DivisionsDone(root, model)).Single(l => l.Silo == "silo-1");
            (dividing, hot) = (leaf.Id, keys.Where(k => leaf.Range.Contains(KeyOrder.Encode(k))).ToList());
        }

        // Held after the commit of its last new KBL (three pieces: the root's three children, or two new siblings).
        fixture.Faults.Arm(new Fault("IKblTreeGrain.Commit", FaultSide.Caller, FaultTiming.After, FaultKind.Pause) { Grain = dividing, Skip = rootDivides ? 2 : 1 });
        using var cool = new CancellationTokenSource();
        var writes = Task.Run(async () =>
        {
            for (var round = 10; !cool.IsCancellationRequested; round++)
            {
                await WriteRound(model, hot.TakeWhile(_ => !cool.IsCancellationRequested), round);
            }
        });
        try
        {
            var (_, silo) = await fixture.Faults.Fired.WaitAsync(Settle);
            Assert.Equal("silo-1", silo);
            await cool.CancelAsync();

            // Its new leaves serve (the last commit answered); one elsewhere comes to silo-1.
            var born = rootDivides
                ? Enumerable.Range(0, 3).Select(i => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, $"{ColonyNames.RootPath}.{i}")))
                : [fixture.Grains.GetGrain<IKblGrain>(fixture.Faults.StruckTarget)]; // the sibling committed last; the other may have stayed here
            var views = await Task.WhenAll(born.Select(k => k.GetTree(0, hotPath: false)));
            var moved = views.FirstOrDefault(v => v.Role == KblRole.Leaf && v.Silo != "silo-1");
            Assert.True(moved is not null, $"no new leaf elsewhere to move: {string.Join(", ", views.Select(v => $"{v.Id} {v.Role} on {v.Silo}"))}");
            Assert.True(moved.Feedback.Keys > 0, $"{moved.Id} holds no record to lose");
            await fixture.Grains.GetGrain<IKblPlacementGrain>(moved.Id).Relocate(moved.Silo, "silo-1");
            fixture.Faults.Release();
            await writes;

            var done = await DivisionsDone(root, model);
            Assert.Equal("silo-1", TreeWalk.Leaves(done).Single(l => l.Id == moved.Id).Silo);
            await model.UntilServed();
            await model.Check();
        }
        catch
        {
            output.WriteLine($"Kbl's log for colony {colony}:\n{fixture.Log.Lines(colony)}");
            throw;
        }
        finally
        {
            fixture.Faults.Release();
            await cool.CancelAsync();
            await writes;
        }
    }

    /// <summary>
    /// A one-copy colony whose one leaf runs on silo-1 (silo-0, which holds the in-process membership, is never
    /// killed) and divides by load into three new leaves, one per silo, once written to hard; no merges.
    /// </summary>
    private async Task<(string Colony, IKblGrain Root, ColonyModel Model, List<string> Keys)> LeafOnSilo1ThatDividesByLoad()
    {
        var colony = $"f{Guid.NewGuid():N}"[..12];
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await root.Configure(Genome.Default with
        {
            Redundancy = Redundancy.None,
            FanOut = 3,
            SplitKeys = 100_000,
            SplitOpsPerSecond = 100,
            MergeKeys = 0,
        });
        var model = new ColonyModel(fixture.Router, colony);
        var keys = Enumerable.Range(0, 100).Select(i => $"k{i:d3}").ToList();
        await model.PutAcknowledged(keys[0], "start");
        var leaf = await root.GetTree();
        if (leaf.Silo != "silo-1")
        {
            await fixture.Grains.GetGrain<IKblPlacementGrain>(leaf.Id).Relocate(leaf.Silo, "silo-1");
        }

        return (colony, root, model, keys);
    }

    /// <summary>Writes every one of <paramref name="keys"/> once more, its value naming the round.</summary>
    private static async Task WriteRound(ColonyModel model, IEnumerable<string> keys, int round)
    {
        foreach (var key in keys)
        {
            await model.Put(key, $"{key}-{round}");
        }
    }

    /// <summary>Waits until the colony's divisions are done (its root interior, no KBL still pending), reading it as a client meanwhile.</summary>
    private async Task<KblView> DivisionsDone(IKblGrain root, ColonyModel model) => (await Eventually.Until(
        async () =>
        {
            await model.Touch();
            try
            {
                return await root.GetTree();
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return null; // its silo was just killed
            }
        },
        t => t is not null && t.Role == KblRole.Interior && TreeWalk.All(t).All(k => k.Role is KblRole.Leaf or KblRole.Interior),
        Settle,
        "the divisions done"))!;

    public void Dispose() => fixture.Faults.Disarm();

    /// <summary>The colony's life with <paramref name="fault"/> armed; a silo it crashes is killed, then restarted with its disk.</summary>
    private async Task<ColonyModel> Live(Fault fault, Genome? genome = null)
    {
        var colony = $"f{Guid.NewGuid():N}"[..12];
        try
        {
            return await Live(fault, colony, genome ?? Small);
        }
        catch
        {
            output.WriteLine($"Kbl's log for colony {colony}:\n{fixture.Log.Lines(colony)}");
            throw;
        }
    }

    private async Task<ColonyModel> Live(Fault fault, string colony, Genome genome)
    {
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await root.Configure(genome);
        var model = new ColonyModel(fixture.Router, colony);
        using var lived = new CancellationTokenSource();
        fixture.Faults.Arm(fault);
        var crash = Crash(fault, lived.Token);
        var keys = Enumerable.Range(0, 100).Select(i => $"k{i:d3}").OrderBy(k => StringComparer.Ordinal.GetHashCode(k)).ToList();

        // A probe of the tree that waits out a crash in progress (the silo is restarted first), reads the colony as
        // a client in the meantime would, and takes a failed call (the root's silo was just killed) as "not yet".
        async Task<KblView?> Tree()
        {
            if (fixture.Faults.Fired.IsCompleted)
            {
                await crash;
            }

            await model.Touch();
            try
            {
                return await root.GetTree();
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                return null;
            }
        }

        // A mirrored colony's leaf has its copies before it grows, so its divisions hand them on.
        if (genome.Redundancy.Mirrored)
        {
            await model.Put(keys[0], $"{keys[0]}-1");
            await Eventually.Until(Tree, t => t?.Replicas is { Status: "redundant" }, Settle, "the first leaf's copies");
        }

        // It grows, and its KBLs spread over the silos.
        foreach (var key in keys)
        {
            await model.Put(key, $"{key}-1");
        }

        var grown = await Eventually.Until(Tree, t => t is not null && TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= Small.SplitKeys) && TreeWalk.Height(t) >= 2, Settle, "the colony's divisions");
        await Spread(grown!);

        // A merge fuses only copies in sync on a silo holding one of each leaf: for the fuse's faults the merge starts
        // once the copies the moves left behind are rebuilt (on a slow machine it had merged before, with no fuse).
        if (fault.Method == "IReplicaGrain.Fuse")
        {
            await Eventually.Until(Tree, t => t is not null && TreeWalk.Leaves(t).All(l => l.Replicas is { Status: "redundant" }), Settle, "every leaf's copies in sync");
        }

        // Most keys are overwritten or deleted; it merges back into one leaf.
        foreach (var (key, i) in keys.Select((k, i) => (k, i)))
        {
            await (i < 10 ? model.Put(key, $"{key}-2") : model.Delete(key));
        }

        await Eventually.Until(Tree, t => t?.Role == KblRole.Leaf, Settle, "the colony's merge back into one leaf");
        await lived.CancelAsync();
        await crash;

        Assert.True(fixture.Faults.Fired.IsCompleted, $"the fault ({fault}) never struck: the colony's life did not take that step");
        await model.Check();
        return model;
    }

    private static TimeSpan Settle => TimeSpan.FromSeconds(60);

    /// <summary>Leaves in turn to silo-0, silo-1 and silo-2; interior KBLs to silo-1. A move that does not apply (-1) is left.</summary>
    private async Task Spread(KblView tree)
    {
        var leaves = TreeWalk.Leaves(tree).ToList();
        var moves = leaves.Select((l, i) => (l.Id, l.Silo, To: $"silo-{i % 3}"))
            .Concat(TreeWalk.All(tree).Where(k => k.Role == KblRole.Interior).Select(k => (k.Id, k.Silo, To: "silo-1")));
        foreach (var (id, from, to) in moves.Where(m => m.Silo != m.To))
        {
            try
            {
                await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Relocate(from, to);
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                output.WriteLine($"move of {id} to {to} failed: {e.Message}"); // the fault struck this move
            }
        }
    }

    /// <summary>When a crash strikes: kill that silo, let the protocol retry without it for a moment, then restart it with its disk.</summary>
    private async Task Crash(Fault fault, CancellationToken lived)
    {
        if (fault.Kind != FaultKind.Crash)
        {
            return;
        }

        var fired = fixture.Faults.Fired;
        await Task.WhenAny(fired, Task.Delay(Timeout.Infinite, lived));
        if (!fired.IsCompleted)
        {
            return; // never struck: the test says so
        }

        var (_, silo) = await fired;
        output.WriteLine($"{fault} struck on {silo}: killing it");
        await fixture.Kill(silo);

        // Other KBLs retry the interrupted step while the silo is down (each tick): let a few retries happen, or
        // go on after a while if nothing retries (nothing had to).
        var steps = Steps.Append(fault.Method).Distinct().ToList();
        var before = steps.Sum(fixture.Faults.Calls);
        try
        {
            await Eventually.Until(() => Task.FromResult(steps.Sum(fixture.Faults.Calls)), n => n >= before + 3, TimeSpan.FromSeconds(5), "retries");
        }
        catch (TimeoutException)
        {
        }

        await fixture.Restart(silo);
        output.WriteLine($"{silo} restarted");
    }
}
