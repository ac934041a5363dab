using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Tests.Cluster;

/// <summary>
/// A colony of 1 MiB values, three times the test cluster's message limit: its pages and record transfers are
/// bounded by bytes, so it is scanned, divided by load across silos and merged back without losing a byte. (Its move
/// to another node group: <see cref="LargeValueMoveTests"/>.)
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class LargeValueTests(ClusterFixture fixture)
{
    private static readonly string[] Silos = ["silo-0", "silo-1", "silo-2"];

    [Fact]
    public async Task A_mirrored_leaf_of_large_values_rebuilds_its_replica_in_pages()
    {
        // 48 MiB in one leaf with one copy, then two: the replica is built from a snapshot three times the message
        // limit, which sent as one message could never arrive.
        var colony = new LargeValueColony(fixture.Grains, fixture.Router, "large-mirrored");
        await SilosKnowEachOther();
        var genome = Genome.Default with { SplitKeys = 1_000_000, SplitBytes = 1L << 40, SplitOpsPerSecond = 1e9 };
        await colony.Write(genome);
        await fixture.Grains.GetGrain<IKblTreeGrain>(colony.Root.GetPrimaryKeyString()).UpdateGenome(genome with { Redundancy = new Redundancy(RedundancyMode.Mirror, 2, 1) });

        var tree = await Eventually.Until(
            () => colony.Root.GetTree(0, false),
            t => t.Replicas is { Status: "redundant", InSync: 2 },
            TimeSpan.FromSeconds(60),
            "the leaf's replica rebuilt");
        Assert.NotEqual(tree.Silo, tree.Replicas!.Members.Single().Silo);
        await colony.AssertEveryRecord("after the rebuild");
    }

    [Fact]
    public async Task A_colony_of_large_values_is_scanned_divided_across_silos_and_merged_without_loss()
    {
        var colony = new LargeValueColony(fixture.Grains, fixture.Router, "large-values");
        var genome = Genome.Default with
        {
            FanOut = 2, SplitKeys = 1_000_000, SplitBytes = 1L << 30, SplitOpsPerSecond = 50,
            MergeKeys = 1000, MergeBytes = 256L << 20, MergeOpsPerSecond = 5, Hysteresis = TimeSpan.FromHours(1),
        };
        await SilosKnowEachOther();
        await colony.Write(genome);

        // A scan: every value back, in leaf pages of at most 4 MiB.
        await colony.AssertEveryRecord("after the writes");
        var page = await fixture.Router.Page(colony.Name, [], false, null, new PageBounds(1000, PageBounds.TransferBytes));
        Assert.True(page.More);
        Assert.InRange(page.Records.Sum(PageBounds.SizeOf), 1, PageBounds.TransferBytes);
        Assert.Equal(["k00", "k00s", "k01", "k01s", "k02", "k02s"], page.Records.Select(r => KeyOrder.Display(r.Key)));

        // Reads of the small records make the root divide by load: its pieces go to different silos, and a piece on
        // another silo takes its ~24 MiB of records in bounded pages.
        var divided = await Eventually.Until(
            async () =>
            {
                for (var n = 0; n < 100; n++)
                {
                    var key = colony.SmallKeys[n % colony.SmallKeys.Count];
                    await fixture.Router.Send(colony.Name, key, g => g.Get(key));
                }

                return await colony.Root.GetTree();
            },
            t => t.Role == KblRole.Interior,
            TimeSpan.FromSeconds(60),
            "a load division");
        var silos = TreeWalk.Leaves(divided).Select(l => l.Silo).Distinct().ToList();
        Assert.True(silos.Count >= 2, $"the pieces stayed on {string.Join(", ", silos)}");
        await colony.AssertEveryRecord("after the division");

        // The dividing leaf drops its copies of the pieces it handed over once the hand-off commits, a step after
        // the tree shows the division: then every record is on one disk only.
        await OnceEach(colony, "after the division");

        // Cold now, the children merge back into the root: it pulls the other silos' records in export pages.
        await colony.Root.Configure(genome with { Hysteresis = TimeSpan.FromMilliseconds(500) });
        await Eventually.Until(() => colony.Root.GetTree(), t => t.Role == KblRole.Leaf, TimeSpan.FromSeconds(60), "the merge");
        await colony.AssertEveryRecord("after the merge");
        await OnceEach(colony, "after the merge"); // the retired children's copies are gone
    }

    private static Task OnceEach(LargeValueColony colony, string when) => Eventually.Until(
        () => colony.RecordsOn(Silos), n => n == LargeValueColony.Records, TimeSpan.FromSeconds(30), $"every record on one disk only {when}");

    /// <summary>
    /// Waits until every silo sees the others (their metadata arrives shortly after they join): only then does a
    /// division by load spread its pieces over them.
    /// </summary>
    private Task SilosKnowEachOther() => Eventually.Until(
        () => Task.FromResult(fixture.Cluster.GetActiveSilos().Select(s => s.ServiceProvider.GetRequiredService<ClusterLoad>().SilosOfGroup("default").Count).ToList()),
        seen => seen.All(n => n == Silos.Length),
        TimeSpan.FromSeconds(30),
        "the silos knowing each other");
}
