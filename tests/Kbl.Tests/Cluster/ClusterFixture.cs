using Kbl.Hosting;
using Kbl.Placement;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Three silos of one node group, feeding back every 200 ms, with no rebalancing between them. Leaves aggregate 8
/// records a turn, so every aggregate here goes in many pages.
/// </summary>
public sealed class ClusterFixture() : KblTestCluster(3, "cluster")
{
    public static readonly TimeSpan FeedbackPeriod = TimeSpan.FromMilliseconds(200);

    public const int AggregatePageRecords = 8;

    protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
    {
        options.FeedbackPeriod = FeedbackPeriod;
        options.AggregatePageRecords = AggregatePageRecords;

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
