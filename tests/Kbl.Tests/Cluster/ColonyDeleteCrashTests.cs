using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Runtime.Messaging;
using Orleans.TestingHost;

namespace Kbl.Tests.Cluster;

/// <summary>Three silos for the colony delete's crash test.</summary>
public sealed class CrashClusterFixture() : CrashableCluster(3, "crash");

[CollectionDefinition(Name)]
public sealed class CrashClusterCollection : ICollectionFixture<CrashClusterFixture>
{
    public const string Name = "crash cluster";
}

/// <summary>
/// A colony delete that silo crashes interrupt: the colony refuses everything from the moment the delete is
/// recorded; while a silo holding some of its records is down the delete waits (those records must not outlive the
/// colony); the silo coordinating the delete dies too; once the first silo is back, a repeated delete carries on
/// from where it stopped and leaves nothing on any disk, in the metadata, the registry or the plan.
/// </summary>
[Collection(CrashClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class ColonyDeleteCrashTests(CrashClusterFixture fixture)
{
    private const string Colony = "crash-delete";

    [Fact]
    public async Task A_delete_interrupted_by_silo_crashes_finishes_once_they_are_back()
    {
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(Colony, ColonyNames.RootPath));
        var genome = Genome.Default with { SplitKeys = 30, MergeKeys = 1, Hysteresis = TimeSpan.FromHours(1) };
        await root.Configure(genome);
        var keys = await ColonyTraces.Write(fixture, Colony, 400);
        var tree = await Eventually.Until(
            () => root.GetTree(), t => TreeWalk.Leaves(t).Count() >= 6 && TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= genome.SplitKeys), TimeSpan.FromSeconds(30), "the colony divided");

        // The root on silo-1, which holds no records; the leaves in turn on silo-0 and silo-2.
        if (tree.Silo != "silo-1")
        {
            Assert.True(await fixture.Grains.GetGrain<IKblPlacementGrain>(tree.Id).Relocate(tree.Silo, "silo-1") >= 0, "the root moved to silo-1");
        }

        var leaves = TreeWalk.Leaves(tree).ToList();
        for (var i = 0; i < leaves.Count; i++)
        {
            var target = i % 2 == 0 ? "silo-0" : "silo-2";
            if (leaves[i].Silo != target)
            {
                Assert.True(await fixture.Grains.GetGrain<IKblPlacementGrain>(leaves[i].Id).Relocate(leaves[i].Silo, target) >= 0, $"{leaves[i].Id} moved to {target}");
            }
        }

        Assert.True(ColonyTraces.OnDisk(Silo(2), Colony).Records > 0, "silo-2 holds records of the colony");
        Assert.Equal(0, ColonyTraces.OnDisk(Silo(1), Colony).Records);

        // silo-2 crashes: the delete is recorded and done on silo-0, and waits for silo-2's records.
        await fixture.Cluster.KillSiloAsync(Silo(2));
        await fixture.UntilActive(2);
        var first = await Call(root.DeleteColony);
        Assert.Equal(ColonyDeletionStatus.Deleting, first.Status);
        Assert.Contains("silo-2", first.Message, StringComparison.Ordinal);
        var key = KeyOrder.Encode(keys[0]);
        Assert.Equal(KblStatus.NoColony, (await Call(() => fixture.Router.Send(Colony, key, g => g.Put(key, key, Precondition.None)))).Status);
        Assert.Null(await Call(root.GetGenome));
        await Assert.ThrowsAsync<ColonyConflictException>(() => Call(() => root.Configure(genome)));
        var registry = fixture.Grains.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key);
        Assert.Contains(Colony, await Call(registry.ListDeleting));
        Assert.DoesNotContain(Colony, await Call(registry.List));
        Assert.Equal(0, ColonyTraces.OnDisk(Silo(0), Colony).Records); // the part on silo-0 is gone already

        // The silo coordinating it crashes too; silo-2 comes back with its disk.
        await fixture.Cluster.KillSiloAsync(Silo(1));
        await fixture.UntilActive(1);
        await fixture.Restart(2);
        await fixture.UntilActive(2);
        Assert.True(ColonyTraces.OnDisk(Silo(2), Colony).Records > 0, "silo-2 came back with its records");

        var second = await Eventually.Until(
            () => Call(root.DeleteColony), d => d.Status != ColonyDeletionStatus.Deleting, TimeSpan.FromSeconds(60), "the delete finished");

        Assert.Equal(ColonyDeletionStatus.Deleted, second.Status);
        Assert.Equal(ColonyTraces.None, await Call(() => ColonyTraces.Of(fixture, Colony)));

        // The name is free again, for an empty colony.
        await Call(() => root.Configure(genome));
        Assert.Equal(KblStatus.NotFound, (await Call(() => fixture.Router.Send(Colony, key, g => g.Get(key)))).Status);
        Assert.Equal(0, (await Call(() => root.Aggregate(new AggregateQuery([], null, AggregateOp.Count, null)))).Records);
    }

    /// <summary>A call from the test's client, again while it still picks a gateway on a silo that was killed.</summary>
    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (e is ConnectionFailedException or SiloUnavailableException && attempt < 20)
            {
                await Task.Delay(100); // the client drops the dead gateway and takes another
            }
        }
    }

    private InProcessSiloHandle Silo(int index) =>
        fixture.LiveSilos.Single(s => KblTestCluster.Index(s.Name) == index);
}
