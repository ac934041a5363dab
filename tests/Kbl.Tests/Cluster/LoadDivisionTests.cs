using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>
/// A hot leaf alone on its node group's one silo does not divide by load: there is no silo to spread the hot range
/// over, and the pieces would only cut its group commit into smaller ones. (With silos to spread over it does:
/// <see cref="ShapeChangeTests.A_hot_leaf_divides_by_load_where_the_load_is"/>.)
/// </summary>
[Trait("Category", Category.Cluster)]
public sealed class LoadDivisionTests(LoadDivisionTests.OneSilo fixture) : IClassFixture<LoadDivisionTests.OneSilo>
{
    [Fact]
    public async Task A_hot_leaf_on_its_groups_only_silo_stays_one_leaf()
    {
        const string colony = "hot-alone";
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await root.Configure(Genome.Default with { SplitOpsPerSecond = 200, MergeOpsPerSecond = 1, Hysteresis = TimeSpan.FromHours(1), Redundancy = Redundancy.None });
        var keys = Enumerable.Range(0, 40).Select(i => KeyOrder.Encode($"h{i:d3}")).ToList();
        foreach (var key in keys)
        {
            await fixture.Router.Send(colony, key, g => g.Put(key, key, Precondition.None));
        }

        // The same load as the three-silo test: reads of a narrow hot range until the leaf has reported itself over
        // its threshold on several feedback ticks — each of which would have divided it, had there been a silo to
        // spread to.
        var hot = keys.Take(10).ToList();
        var overThreshold = 0;
        var tree = await Eventually.Until(
            async () =>
            {
                for (var i = 0; i < 200; i++)
                {
                    var key = hot[i % hot.Count];
                    await fixture.Router.Send(colony, key, g => g.Get(key));
                }

                var view = await root.GetTree();
                overThreshold = view.Feedback.OpsPerSecond > 200 ? overThreshold + 1 : 0;
                return view;
            },
            t => t.Role != KblRole.Leaf || overThreshold >= 5,
            TimeSpan.FromSeconds(30),
            "five reports of a leaf over its load threshold");
        Assert.Equal(KblRole.Leaf, tree.Role);
    }

    /// <summary>One silo, feedback every 200 ms.</summary>
    public sealed class OneSilo() : KblTestCluster(1, "load-alone")
    {
        protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
        {
            options.FeedbackPeriod = TimeSpan.FromMilliseconds(200);
            return (options, new KblPlacementOptions { RebalancePeriod = TimeSpan.Zero });
        }
    }
}
