using Kbl.Colonies;
using Kbl.Grains;

namespace Kbl.Tests.Cluster;

/// <summary>A colony of 1 MiB values, three times the test cluster's message limit, moves to another node group in bounded pages.</summary>
[Collection(NodeGroupCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class LargeValueMoveTests(NodeGroupClusterFixture fixture)
{
    [Fact]
    public async Task A_colony_of_large_values_moves_to_another_node_group_without_loss()
    {
        var colony = new LargeValueColony(fixture.Grains, fixture.Router, "large-mover");
        await colony.Write(Genome.Default with { SplitKeys = 1_000_000, SplitBytes = 1L << 30, MergeKeys = 1000, MergeBytes = 256L << 20, NodeGroup = "a" });
        var up = fixture.Cluster.GetActiveSilos().Select(s => KblTestCluster.StableName(s.Name)).ToList();
        var (groupA, groupB) = (up.Where(s => NodeGroupClusterFixture.GroupOf(KblTestCluster.Index(s)) == "a").ToList(), up.Where(s => NodeGroupClusterFixture.GroupOf(KblTestCluster.Index(s)) == "b").ToList());
        // Once on group a's disks — a rebalancing move between its two silos (every 500 ms here) copies the records over
        // in pages before it deletes them where they were, so right after the writes the count may see some twice
        // (cc48 saw 102 of 96: a page of six on the way).
        await Eventually.Until(() => colony.RecordsOn(groupA), n => n == LargeValueColony.Records, TimeSpan.FromSeconds(30), "every record once on group a's disks");

        var moved = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony.Name, ColonyNames.RootPath)).Move("b");

        Assert.Null(moved.Error);
        Assert.Equal(LargeValueColony.Records, moved.Records);
        Assert.Equal(LargeValueColony.Records, await colony.RecordsOn(groupB));
        Assert.Equal(0, await colony.RecordsOn(groupA));
        await colony.AssertEveryRecord("after the move");
    }
}
