using Kbl.Hosting;
using Kbl.Placement;
using Kbl.Tests.Faults;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Four in-process silos in two node groups and two zones: silo-0 (a, zone-1), silo-1 (a, zone-2), silo-2 (b,
/// zone-1), silo-3 (b, zone-2). Silos started later (silo-4, …) join group a. Load is shared and leaves are
/// rebalanced every fraction of a second, and a missing group is waited for 2 s.
/// </summary>
public sealed class NodeGroupClusterFixture() : KblTestCluster(4, "groups")
{
    public static string GroupOf(int index) => index is 2 or 3 ? "b" : "a";

    /// <summary>Injected faults (a double: grain call filters), idle unless a test arms one.</summary>
    public TreeFaults Faults { get; } = new();

    protected override void ConfigureSilo(int index, ISiloBuilder silo) => SiloFaults.AddTo(silo, Faults);

    protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
    {
        options.NodeGroup = GroupOf(index);
        options.Zone = $"zone-{(index % 2) + 1}";
        options.FeedbackPeriod = TimeSpan.FromMilliseconds(200);
        return (options, new KblPlacementOptions
        {
            LoadRefresh = TimeSpan.FromMilliseconds(200),
            RebalancePeriod = TimeSpan.FromMilliseconds(500),
            WaitForGroup = TimeSpan.FromSeconds(2),
        });
    }
}

[CollectionDefinition(Name)]
public sealed class NodeGroupCollection : ICollectionFixture<NodeGroupClusterFixture>
{
    public const string Name = "node groups";
}
