using System.Collections.Concurrent;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Deleting a colony on the 3-silo cluster: a divided colony spread over every silo leaves no record, clock, KBL
/// state, name or demand behind; writes and divisions racing the delete bring no part of it back; and a colony
/// created again under the same name starts empty.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class ColonyDeleteTests(ClusterFixture fixture)
{
    private static readonly Genome Small = Genome.Default with { SplitKeys = 40, MergeKeys = 1, Hysteresis = TimeSpan.FromHours(1) };

    [Fact]
    public async Task Deleting_a_divided_colony_spread_over_the_silos_leaves_nothing_behind()
    {
        const string colony = "delete-spread";
        var root = Root(colony);
        await root.Configure(Small);
        var keys = await ColonyTraces.Write(fixture, colony, 600);
        var tree = await Eventually.Until(
            () => root.GetTree(), t => TreeWalk.Leaves(t).Count() >= 6 && TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= Small.SplitKeys), TimeSpan.FromSeconds(30), "the colony divided");

        // Leaves in turn to each silo, so every silo's disk holds part of the colony.
        var silos = fixture.Cluster.Silos.Select(s => ClusterFixture.StableName(s.Name)).Order(StringComparer.Ordinal).ToList();
        var leaves = TreeWalk.Leaves(tree).ToList();
        for (var i = 0; i < leaves.Count; i++)
        {
            if (leaves[i].Silo != silos[i % silos.Count])
            {
                Assert.True(await fixture.Grains.GetGrain<IKblPlacementGrain>(leaves[i].Id).Relocate(leaves[i].Silo, silos[i % silos.Count]) >= 0, $"{leaves[i].Id} moved");
            }
        }

        Assert.All(fixture.Cluster.Silos, s => Assert.True(ColonyTraces.OnDisk(s, colony).Records > 0, $"{s.Name} holds records of the colony"));
        var before = await Eventually.Until(() => ColonyTraces.Of(fixture, colony), t => t.Planned, TimeSpan.FromSeconds(30), "the plan carries the colony");
        Assert.Equal(keys.Count, before.Records);
        Assert.True(before.States > leaves.Count && before.Listed, $"before the delete: {before}");

        var deletion = await root.DeleteColony();

        Assert.True(deletion.Status == ColonyDeletionStatus.Deleted, $"{deletion}");
        Assert.Equal(ColonyTraces.None, await ColonyTraces.Of(fixture, colony));
        var key = KeyOrder.Encode(keys[0]);
        Assert.Equal(KblStatus.NoColony, (await fixture.Router.Send(colony, key, g => g.Get(key))).Status);
        Assert.Equal(KblStatus.NoColony, (await fixture.Router.Send(colony, key, g => g.Put(key, key, Precondition.None))).Status);
        Assert.Null(await root.GetGenome());
        Assert.Equal(ColonyDeletionStatus.NoColony, (await root.DeleteColony()).Status);
    }

    [Fact]
    public async Task Writes_and_divisions_racing_a_delete_bring_no_part_of_the_colony_back()
    {
        const string colony = "delete-race";
        var root = Root(colony);
        await root.Configure(Genome.Default with { SplitKeys = 25, MergeKeys = 1, Hysteresis = TimeSpan.FromHours(1) });
        await ColonyTraces.Write(fixture, colony, 200, "a");

        // Writers keep the colony dividing while it is deleted.
        using var stop = new CancellationTokenSource();
        var deletedAt = long.MaxValue;
        var afterDelete = new ConcurrentBag<KblStatus>();
        var acknowledged = 0;
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var started = Environment.TickCount64;
                var key = KeyOrder.Encode($"w{w}-{i:d6}");
                var reply = await fixture.Router.Send(colony, key, g => g.Put(key, key, Precondition.None));
                if (started > Interlocked.Read(ref deletedAt))
                {
                    afterDelete.Add(reply.Status);
                }
                else if (reply.Status == KblStatus.Ok)
                {
                    Interlocked.Increment(ref acknowledged);
                }
            }
        })).ToList();
        await Eventually.Until(() => Task.FromResult(Volatile.Read(ref acknowledged)), n => n >= 300, TimeSpan.FromSeconds(30), "writes while the colony divides");

        var deletion = await root.DeleteColony();
        Interlocked.Exchange(ref deletedAt, Environment.TickCount64);
        await Eventually.Until(() => Task.FromResult(afterDelete.Count), n => n >= 40, TimeSpan.FromSeconds(30), "writes after the delete");
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.Equal(ColonyDeletionStatus.Deleted, deletion.Status);
        Assert.All(afterDelete, s => Assert.Equal(KblStatus.NoColony, s));

        // Nothing comes back: not from a late write, a division under way or a feedback report, for many periods.
        var until = DateTime.UtcNow + (20 * ClusterFixture.FeedbackPeriod);
        do
        {
            Assert.Equal(ColonyTraces.None, await ColonyTraces.Of(fixture, colony));
        }
        while (DateTime.UtcNow < until);
    }

    [Fact]
    public async Task A_colony_created_again_after_its_delete_starts_empty()
    {
        const string colony = "delete-again";
        var root = Root(colony);
        await root.Configure(Small);
        var keys = await ColonyTraces.Write(fixture, colony, 300);
        await Eventually.Until(() => root.GetTree(), t => TreeWalk.Leaves(t).Count() >= 4, TimeSpan.FromSeconds(30), "the colony divided");
        foreach (var key in keys.Take(20).Select(KeyOrder.Encode))
        {
            Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(colony, key, g => g.Get(key))).Status);
        }

        Assert.Equal(ColonyDeletionStatus.Deleted, (await root.DeleteColony()).Status);
        await root.Configure(Small);

        // The router still knows the old leaves; they answer for nothing now, and the new colony holds nothing.
        foreach (var key in keys.Take(50).Select(KeyOrder.Encode))
        {
            Assert.Equal(KblStatus.NotFound, (await fixture.Router.Send(colony, key, g => g.Get(key))).Status);
        }

        Assert.Empty(await fixture.Router.Scan(colony, [], exclusive: false, to: null, limit: int.MaxValue).ToListAsync());
        Assert.Equal(0, (await root.Aggregate(new AggregateQuery([], null, AggregateOp.Count, null))).Records);
        var tree = await root.GetTree();
        Assert.Equal(KblRole.Leaf, tree.Role);
        Assert.Equal(0, tree.Feedback.Keys);
        var traces = await ColonyTraces.Of(fixture, colony);
        Assert.True(traces is { Records: 0, States: 1, Listed: true, ListedDeleting: false }, $"after it was created again: {traces}");

        // It is a colony like any other: it takes writes and grows again.
        await ColonyTraces.Write(fixture, colony, 100, "b");
        Assert.Equal(100, (await root.Aggregate(new AggregateQuery([], null, AggregateOp.Count, null))).Records);
        Assert.Equal(ColonyDeletionStatus.Deleted, (await root.DeleteColony()).Status);
    }

    private IKblGrain Root(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
}
