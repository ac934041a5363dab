using Kbl.Hosting;
using Kbl.Persistence.Sqlite;
using Kbl.Placement;
using Kbl.Silo.Routing;
using Kbl.Storage;
using Orleans.TestingHost;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Four in-process silos in two node groups and two zones: silo-0 (a, zone-1), silo-1 (a, zone-2), silo-2 (b,
/// zone-1), silo-3 (b, zone-2). Silos started later (silo-4, …) join group a.
/// </summary>
public sealed class NodeGroupClusterFixture : IAsyncLifetime
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "kbl-groups-" + Guid.NewGuid().ToString("N")[..8]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public ColonyRouter Router { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public static int Index(string testSiloName) =>
        int.TryParse(new string([.. testSiloName.Reverse().TakeWhile(char.IsAsciiDigit).Reverse()]), out var i) ? i : 0;

    public static string GroupOf(int index) => index is 2 or 3 ? "b" : "a";

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(4);
        var metadata = Path.Combine(Root, "meta.db");
        builder.ConfigureSilo((options, silo) =>
        {
            var index = Index(options.SiloName);
            var name = $"silo-{index}";
            silo.Services.AddSqliteGrainStorage(KblStorage.Name, o => o.Path = metadata);
            silo.AddKblGrains(
                new KblOptions
                {
                    DataPath = Path.Combine(Root, name),
                    SiloName = name,
                    NodeGroup = GroupOf(index),
                    Zone = $"zone-{(index % 2) + 1}",
                    FeedbackPeriod = TimeSpan.FromMilliseconds(200),
                },
                new KblPlacementOptions
                {
                    LoadRefresh = TimeSpan.FromMilliseconds(200),
                    RebalancePeriod = TimeSpan.FromMilliseconds(500),
                    WaitForGroup = TimeSpan.FromSeconds(2),
                });
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        Router = new ColonyRouter(Cluster.Client);
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class NodeGroupCollection : ICollectionFixture<NodeGroupClusterFixture>
{
    public const string Name = "node groups";
}
