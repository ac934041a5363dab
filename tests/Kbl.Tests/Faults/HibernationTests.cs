using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tests.Cluster;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Kbl.Tests.Faults;

/// <summary>
/// The window: idle leaves seal their shards into the (local) cold tier and leave every silo disk, copies included;
/// the next request wakes them with every record; and a silo killed at any step of a hibernation or a wake loses
/// nothing (the cold tier's calls are cut by <see cref="FaultyColdTier"/>, the copies' drops by <see cref="TreeFaults"/>).
/// </summary>
[Collection(FaultClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class HibernationTests(FaultClusterFixture fixture, ITestOutputHelper output) : IDisposable
{
    private static TimeSpan Settle => TimeSpan.FromSeconds(60);

    public void Dispose() => fixture.Faults.Disarm();

    [Fact]
    public async Task An_idle_colony_hibernates_leaving_nothing_on_any_disk_and_every_record_comes_back()
    {
        var (colony, model) = await Colony(g => g with
        {
            Redundancy = new Redundancy(RedundancyMode.Mirror, 2, 1),
            SplitKeys = 100,
            MergeKeys = 10,
            HibernateAfter = TimeSpan.FromSeconds(1),
        });
        for (var i = 0; i < 300; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        for (var i = 0; i < 300; i += 7)
        {
            await model.Delete($"k{i:d3}");
        }

        var asleep = await AllAsleep(colony);
        output.WriteLine($"{asleep.Count} leaves hibernated: {string.Join(", ", asleep.Select(l => $"{l.Path} ({l.Hibernation!.Records})"))}");
        Assert.True(asleep.Count > 1, "the colony divided before it slept");
        Assert.Equal(300 - 43, asleep.Sum(l => l.Hibernation!.Records));
        Assert.Equal(asleep.Select(l => l.Id), NothingOnAnyDisk(colony, asleep.Select(l => l.Id)));
        Assert.Equal(asleep.Count(l => l.Hibernation!.Records > 0), Snapshots(colony).Count);

        // An aggregate over the sleeping colony wakes its leaves (a few at a time) and counts every record.
        var counted = await fixture.Router.Aggregate(colony, new AggregateQuery([], null, AggregateOp.Count, null));
        Assert.Equal((KblStatus.Ok, 300L - 43), (counted.Status, counted.Records));

        // Reading wakes them: every record, from every leaf; writes go on; then they sleep again and wake again.
        await model.Check();
        for (var i = 0; i < 300; i += 5)
        {
            await model.Put($"k{i:d3}", $"w{i}");
        }

        await AllAsleep(colony);
        await model.Check();
        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");

        // A woken leaf takes its copies back: one leaf, read until it is awake, gets two copies in sync again.
        var first = asleep[0];
        await Eventually.Until(
            async () => { await model.Touch(); return await Kbl(colony, first.Path).ViewOrNull(); },
            v => v is { Hibernation: null, Replicas: { Status: "redundant", InSync: 2 } },
            Settle,
            "a woken leaf with two copies in sync");
    }

    [Fact]
    public async Task Hibernate_and_wake_on_demand_change_every_leaf_of_the_subtree_and_nothing_else()
    {
        var (colony, model) = await Colony(g => g with { SplitKeys = 60, MergeKeys = 6 });
        for (var i = 0; i < 200; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        // Its divisions done (they run after the writes that call for them: on a busy machine a tree read right
        // after the last write once counted 10 leaves where the hibernation then found 13).
        var grown = await Eventually.Until(
            () => Kbl(colony, ColonyNames.RootPath).GetTree(),
            t => t.Feedback.Keys == 200 && TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= 60),
            Settle,
            "the colony's divisions");
        var leaves = TreeWalk.Leaves(grown).ToList();
        var root = fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        Assert.Equal(new WindowResult(true, leaves.Count, 0), await root.Hibernate());
        var tree = await Kbl(colony, ColonyNames.RootPath).GetTree();
        Assert.All(TreeWalk.Leaves(tree), l => Assert.NotNull(l.Hibernation));
        Assert.Equal(leaves.Count, tree.Feedback.Hibernated);
        Assert.Equal(200, tree.Feedback.Keys);
        NothingOnAnyDisk(colony, leaves.Select(l => l.Id));

        // Asked again, nothing changes; a wake brings every leaf back (no genome says they sleep again by themselves).
        Assert.Equal(new WindowResult(true, 0, leaves.Count), await root.Hibernate());
        Assert.Equal(new WindowResult(true, leaves.Count, 0), await root.Wake());
        Assert.All(TreeWalk.Leaves(await Kbl(colony, ColonyNames.RootPath).GetTree()), l => Assert.Null(l.Hibernation));
        Assert.Empty(Snapshots(colony));
        await model.Check();
    }

    [Fact]
    public async Task A_wake_whose_cleanup_fails_serves_on_with_the_leafs_clock_and_the_next_wake_cleans_up()
    {
        var (colony, model) = await Colony(g => g);
        for (var i = 0; i < 50; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        var root = fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        Assert.Equal(new WindowResult(true, 1, 0), await root.Hibernate());
        var snapshot = Assert.Single(Snapshots(colony));

        // The objects' delete after the wake is lost: the leaf serves all the same, its versions going on from its clock.
        fixture.Faults.Arm(new Fault("IColdTier.DeletePrefix", FaultSide.Caller, FaultTiming.Before, FaultKind.Lose) { Grain = colony });
        Assert.Equal(new WindowResult(true, 1, 0), await root.Wake());
        Assert.True(fixture.Faults.Fired.IsCompleted);
        Assert.Equal([snapshot], Snapshots(colony)); // an orphan: nothing reads it
        var put = await fixture.Router.Write(colony, new RecordWrite(KeyOrder.Encode("k000"), [1], Precondition.None));
        Assert.Equal((KblStatus.Ok, 51L), (put.Status, put.Version));

        // The next hibernation writes a snapshot of its own beside the orphan; the next wake deletes both.
        Assert.Equal(new WindowResult(true, 1, 0), await root.Hibernate());
        Assert.Equal(2, Snapshots(colony).Count);
        Assert.Equal(new WindowResult(true, 1, 0), await root.Wake());
        Assert.Empty(Snapshots(colony));
    }

    [Fact]
    public async Task A_restarted_silo_activates_the_leaves_on_its_disk_so_idle_ones_hibernate_without_a_request()
    {
        var (colony, model) = await Colony(g => g with { HibernateAfter = TimeSpan.FromSeconds(8) });
        for (var i = 0; i < 20; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        // The leaf (one copy) on silo-1, which can be killed; killed and started again before it was idle long enough.
        var root = fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        var home = (await Kbl(colony, ColonyNames.RootPath).ViewOrNull())!.Silo;
        Assert.True(home == "silo-1" || await root.Relocate(home, "silo-1") >= 0);
        await Eventually.Until(() => Kbl(colony, ColonyNames.RootPath).ViewOrNull(), v => v?.Silo == "silo-1", Settle, "the leaf on silo-1");
        Assert.Empty(Snapshots(colony));
        await fixture.Kill("silo-1");
        await fixture.Restart("silo-1");

        // Nothing asks for the colony: the silo activates the leaf whose shard its disk holds, and idle, it hibernates.
        await Eventually.Until(() => Task.FromResult(Snapshots(colony).Count), n => n == 1, Settle, "the leaf hibernated with no request");
        await model.Check();
    }

    /// <summary>Each step of a hibernation (H) and a wake (W) a silo can die at, with where the shard must then be found.</summary>
    public static TheoryData<string, FaultTiming> Cuts => new()
    {
        { "IColdTier.Upload", FaultTiming.Before },     // H: exported, not uploaded: the disk copy is the shard
        { "IColdTier.Upload", FaultTiming.After },      // H: uploaded, not saved: the object is an orphan
        { "IReplicaGrain.Drop", FaultTiming.Before },   // H: saved, the copies and the records here not yet dropped
        { "IColdTier.Download", FaultTiming.After },    // W: read, not ingested: the snapshot is still the shard
        { "IColdTier.DeletePrefix", FaultTiming.Before }, // W: ingested and saved here, its objects not yet deleted
    };

    [Theory]
    [MemberData(nameof(Cuts))]
    public async Task A_silo_killed_at_any_step_of_a_hibernation_or_a_wake_loses_nothing(string method, FaultTiming timing)
    {
        var (colony, model) = await Colony(g => g with { Redundancy = new Redundancy(RedundancyMode.Mirror, 2, 1) });
        for (var i = 0; i < 100; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        var root = fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        var wakeStep = method is "IColdTier.Download" or "IColdTier.DeletePrefix";

        // The step runs on silo-1 (silo-0 cannot be killed here: it holds the cluster's membership). A hibernation's:
        // the leaf is handed to its copy there first. A wake's: the leaf sleeps, and its activation is placed there by
        // hint (the activation that just hibernated may not be gone yet: it then wakes where it was, and sleeps again).
        if (!wakeStep)
        {
            var home = (await Eventually.Until(() => Kbl(colony, ColonyNames.RootPath).ViewOrNull(), v => v?.Replicas is { Status: "redundant" }, Settle, "two copies in sync"))!.Silo;
            Assert.True(home == "silo-1" || await root.Relocate(home, "silo-1") >= 0);
            await Eventually.Until(() => Kbl(colony, ColonyNames.RootPath).ViewOrNull(), v => v is { Silo: "silo-1", Replicas.Status: "redundant" }, Settle, "two copies in sync, the primary on silo-1");
        }

        Task step = Task.CompletedTask;
        for (var attempt = 0; attempt < 20; attempt++)
        {
            if (wakeStep)
            {
                Assert.Equal(new WindowResult(true, 1, 0), await root.Hibernate());
            }

            fixture.Faults.Arm(new Fault(method, FaultSide.Caller, timing, FaultKind.Crash) { Spared = "silo-0", Grain = colony });
            step = wakeStep ? WakeOn("silo-1", root) : root.Hibernate();
            if (await Task.WhenAny(step, fixture.Faults.Fired) != step)
            {
                break;
            }
        }

        var killed = (await fixture.Faults.Fired.WaitAsync(Settle)).Silo;
        output.WriteLine($"{method} {timing} struck on {killed}");
        await fixture.Kill(killed);
        _ = step.ContinueWith(t => t.Exception, TaskScheduler.Default);
        try
        {
            if (method == "IColdTier.DeletePrefix")
            {
                await fixture.Restart(killed); // the wake was saved there, with no copy yet: served once it is back
            }

            await model.UntilServed();
            await model.Check();
        }
        finally
        {
            await fixture.EnsureUp(killed);
        }

        // Written to, hibernated and woken once more on the killed silo, back with what it left on its disk: the keys
        // deleted since do not come back, the keys overwritten hold their new values.
        for (var i = 0; i < 100; i += 3)
        {
            await (i % 2 == 0 ? model.Delete($"k{i:d3}") : model.Put($"k{i:d3}", $"w{i}"));
        }

        for (var attempt = 0; attempt < 20; attempt++)
        {
            Assert.True((await root.Hibernate()).Error is null);
            await WakeOn(killed, root);
            if ((await Kbl(colony, ColonyNames.RootPath).ViewOrNull())?.Silo == killed)
            {
                break;
            }
        }

        await model.Check();
        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
    }

    private async Task<(string Colony, ColonyModel Model)> Colony(Func<Genome, Genome> shape)
    {
        var colony = $"h{Guid.NewGuid():N}"[..12];
        await Kbl(colony, ColonyNames.RootPath).Configure(shape(Genome.Default));
        return (colony, new ColonyModel(fixture.Router, colony));
    }

    /// <summary>Wakes a hibernated subtree on silo <paramref name="silo"/> (its leaves' activations placed there by hint).</summary>
    private async Task<WindowResult> WakeOn(string silo, IKblPlacementGrain kbl)
    {
        RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, fixture.LiveSilos.Single(s => KblTestCluster.StableName(s.Name) == silo).SiloAddress);
        try
        {
            return await kbl.Wake();
        }
        finally
        {
            RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey);
        }
    }

    private IKblGrain Kbl(string colony, string path) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, path));

    /// <summary>Waits until every leaf of the colony hibernates (reading the tree wakes none); the leaves.</summary>
    private async Task<List<KblView>> AllAsleep(string colony) =>
        (await Eventually.Until(
            async () => TreeWalk.Leaves(await Kbl(colony, ColonyNames.RootPath).GetTree()).ToList(),
            leaves => leaves.All(l => l.Hibernation is not null),
            Settle,
            "every leaf hibernated"))!;

    /// <summary>
    /// Checks that no live silo's disk holds a record of <paramref name="colony"/>, or a copy (or a clock) of any of
    /// <paramref name="kbls"/>; returns the KBLs checked.
    /// </summary>
    private IEnumerable<string> NothingOnAnyDisk(string colony, IEnumerable<string> kbls)
    {
        var ids = kbls.ToList();
        foreach (var silo in fixture.LiveSilos)
        {
            var store = silo.ServiceProvider.GetRequiredService<RecordStore>();
            var name = KblTestCluster.StableName(silo.Name);
            Assert.True(!store.Scan(colony, [], exclusive: false, to: null).Any(), $"{name} holds records of {colony}");
            Assert.True(!store.KblIds().Intersect(ids).Any(), $"{name} holds a clock of {string.Join(", ", store.KblIds().Intersect(ids))}");
            Assert.All(ids, id => Assert.Equal(0, store.Digest(colony, id, KeyRange.All, replica: true).Records));
        }

        return ids;
    }

    /// <summary>The colony's snapshots in the cold tier.</summary>
    private List<string> Snapshots(string colony) =>
        Directory.Exists(Path.Combine(fixture.ColdTierPath, colony))
            ? [.. Directory.EnumerateFiles(Path.Combine(fixture.ColdTierPath, colony), "*.sst", SearchOption.AllDirectories)]
            : [];
}
