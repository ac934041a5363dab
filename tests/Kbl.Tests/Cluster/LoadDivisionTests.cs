using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Provisioning;
using Kbl.Records;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

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
        var (tree, _) = await HotLeaf(fixture, "hot-alone", untilReports: 5);
        Assert.Equal(KblRole.Leaf, tree.Role);
    }

    /// <summary>
    /// Drives reads of a narrow hot range of a new colony until its root divides, or until it has reported itself over
    /// its load threshold <paramref name="untilReports"/> times in a row — each such report's feedback tick would have
    /// divided it, had it been allowed to.
    /// </summary>
    internal static async Task<(KblView Tree, int Reports)> HotLeaf(KblTestCluster fixture, string colony, int untilReports)
    {
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await root.Configure(Genome.Default with { SplitOpsPerSecond = 200, MergeOpsPerSecond = 1, Hysteresis = TimeSpan.FromHours(1), Redundancy = Redundancy.None });
        var keys = Enumerable.Range(0, 40).Select(i => KeyOrder.Encode($"h{i:d3}")).ToList();
        foreach (var key in keys)
        {
            await fixture.Router.Send(colony, key, g => g.Put(key, key, Precondition.None));
        }

        // The same load as the three-silo test: reads of a narrow hot range.
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
            t => t.Role != KblRole.Leaf || overThreshold >= untilReports,
            TimeSpan.FromSeconds(30),
            $"a division, or {untilReports} reports of a leaf over its load threshold");
        return (tree, overThreshold);
    }

    /// <summary>One silo, feedback every 200 ms, the provisioning policy's default quota of nodes per group.</summary>
    public class OneSilo : KblTestCluster
    {
        private readonly int _quota;

        public OneSilo()
            : this(quota: 10)
        {
        }

        /// <param name="quota">The provisioning policy's nodes per group (<c>MaxNodesPerGroup</c>).</param>
        protected OneSilo(int quota)
            : base(1, "load-alone") => _quota = quota;

        protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
        {
            options.FeedbackPeriod = TimeSpan.FromMilliseconds(200);
            return (options, new KblPlacementOptions { RebalancePeriod = TimeSpan.Zero });
        }

        protected override void ConfigureSilo(int index, ISiloBuilder silo) =>
            silo.Services.AddSingleton(Options.Create(new ProvisioningPolicyOptions { MaxNodesPerGroup = _quota }));
    }

    /// <summary>A group held at one node by its quota.</summary>
    public sealed class OneSiloAtQuota() : OneSilo(quota: 1);
}

/// <summary>
/// A hot leaf alone on a silo whose node group may never have a second (its quota is one node) divides by load all
/// the same: a group over its quota gets relief only by giving a hot subtree a group of its own, and a subtree has to
/// exist for that.
/// </summary>
[Trait("Category", Category.Cluster)]
public sealed class LoadDivisionAtQuotaTests(LoadDivisionTests.OneSiloAtQuota fixture) : IClassFixture<LoadDivisionTests.OneSiloAtQuota>
{
    [Fact]
    public async Task A_hot_leaf_divides_where_its_group_can_only_grow_by_a_group_of_its_own()
    {
        var (tree, _) = await LoadDivisionTests.HotLeaf(fixture, "hot-at-quota", untilReports: 25);
        Assert.Equal(KblRole.Interior, tree.Role);
    }
}
