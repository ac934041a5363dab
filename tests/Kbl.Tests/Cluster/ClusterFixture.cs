using Kbl.Hosting;
using Kbl.Placement;

namespace Kbl.Tests.Cluster;

/// <summary>Three silos of one node group, feeding back every 200 ms, with no rebalancing between them.</summary>
public sealed class ClusterFixture() : KblTestCluster(3, "cluster")
{
    public static readonly TimeSpan FeedbackPeriod = TimeSpan.FromMilliseconds(200);

    protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
    {
        options.FeedbackPeriod = FeedbackPeriod;

        // KBLs stay where divisions put them: these tests check that placement (rebalancing between silos has its
        // own tests, on NodeGroupClusterFixture).
        return (options, new KblPlacementOptions { RebalancePeriod = TimeSpan.Zero });
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
