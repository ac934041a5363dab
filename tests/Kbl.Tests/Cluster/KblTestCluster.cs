using Kbl.Hosting;
using Kbl.Persistence.Sqlite;
using Kbl.Placement;
using Kbl.Silo.Routing;
using Kbl.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace Kbl.Tests.Cluster;

/// <summary>
/// In-process silos sharing one SQLite metadata file, each with its own record store and stable name (<c>silo-0</c>,
/// <c>silo-1</c>, …), as separate processes on one machine would be; a route cache on the cluster client. What the
/// cluster fixtures share: each says how many silos it starts and how each is configured. Messages between silos
/// and to the client are limited to <see cref="MaxMessageBytes"/>, a sixth of Orleans' default, so a page of large
/// values that is bounded by its record count only fails here as it would in production at 100 MB.
/// </summary>
public abstract class KblTestCluster(int silos, string name) : IAsyncLifetime
{
    /// <summary>The largest message body a silo or the client sends or takes (Orleans' <c>MaxMessageBodySize</c>).</summary>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"kbl-{name}-" + Guid.NewGuid().ToString("N")[..8]);

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public ColonyRouter Router { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The grain factory of silo <paramref name="silo"/> (its stable name): calls through it start in that silo.</summary>
    public IGrainFactory GrainsOn(string silo) =>
        LiveSilos.Single(s => StableName(s.Name) == silo).ServiceProvider.GetRequiredService<IGrainFactory>();

    /// <summary>A route cache inside silo <paramref name="silo"/>, as the gateway co-hosted there has.</summary>
    public ColonyRouter RouterOn(string silo) => new(GrainsOn(silo));

    /// <summary>The silos running now (the test host's, and any a fixture started again by itself).</summary>
    public virtual IReadOnlyList<InProcessSiloHandle> LiveSilos => Cluster.Silos;

    /// <summary>The directory every silo keeps hibernated shards in (the local cold tier, shared as on one machine).</summary>
    public string ColdTierPath => Path.Combine(Root, "cold-tier");

    /// <summary>The SQLite file every silo keeps its grain state in.</summary>
    public string MetadataPath => Path.Combine(Root, "meta.db");

    /// <summary>The number the test host gives a silo (<c>Silo_2</c> → 2); silos started later count on.</summary>
    public static int Index(string testSiloName) =>
        int.TryParse(new string([.. testSiloName.Reverse().TakeWhile(char.IsAsciiDigit).Reverse()]), out var i) ? i : 0;

    /// <summary>The stable name (<c>Kbl:SiloName</c>) of a test silo: <c>silo-{index}</c>.</summary>
    public static string StableName(string testSiloName) => $"silo-{Index(testSiloName)}";

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((options, silo) =>
        {
            var index = Index(options.SiloName);
            var (kbl, placement) = Configure(index, new KblOptions { DataPath = Path.Combine(Root, $"silo-{index}"), SiloName = $"silo-{index}" });
            silo.Services.AddSqliteGrainStorage(KblStorage.Name, o => o.Path = MetadataPath);
            silo.AddKblGrains(kbl, placement, new ColdTierOptions { Path = ColdTierPath });
            silo.Configure<SiloMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBytes);
            ConfigureSilo(index, silo);
        });
        builder.ConfigureClient(client =>
        {
            client.Configure<ClientMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBytes);
            ConfigureClient(client);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        Router = new ColonyRouter(Cluster.Client);
    }

    public virtual async Task DisposeAsync()
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

    /// <summary>The options of silo <paramref name="index"/>, given its data path and stable name already set.</summary>
    protected abstract (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options);

    /// <summary>Anything else the cluster client needs (Orleans options); nothing by default.</summary>
    protected virtual void ConfigureClient(IClientBuilder client)
    {
    }

    /// <summary>Anything else silo <paramref name="index"/> needs (Orleans options); nothing by default.</summary>
    protected virtual void ConfigureSilo(int index, ISiloBuilder silo)
    {
    }
}
