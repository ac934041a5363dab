using Kbl.Hosting;
using Kbl.Persistence.Sqlite;
using Kbl.Silo.Routing;
using Kbl.Storage;
using Orleans.TestingHost;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Three in-process silos sharing one SQLite metadata file, each with its own record store and stable name
/// (<c>silo-0</c>, <c>silo-1</c>, …), as separate processes on one machine would be.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan FeedbackPeriod = TimeSpan.FromMilliseconds(200);

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "kbl-cluster-" + Guid.NewGuid().ToString("N")[..8]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public ColonyRouter Router { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    public static string StableName(string testSiloName) => testSiloName.ToLowerInvariant().Replace('_', '-');

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(3);
        var metadata = Path.Combine(Root, "meta.db");
        builder.ConfigureSilo((options, silo) =>
        {
            var name = StableName(options.SiloName);
            silo.Services.AddSqliteGrainStorage(KblStorage.Name, o => o.Path = metadata);
            silo.AddKblGrains(new KblOptions
            {
                DataPath = Path.Combine(Root, name),
                SiloName = name,
                FeedbackPeriod = FeedbackPeriod,
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
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
