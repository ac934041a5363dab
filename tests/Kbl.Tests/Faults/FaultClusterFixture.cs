using Kbl.Hosting;
using Kbl.Placement;
using Kbl.Tests.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace Kbl.Tests.Faults;

/// <summary>
/// Three silos of one group with <see cref="TreeFaults"/> on every one of them, whose failures are noticed within
/// seconds; a silo killed can start again with its name and disk (<see cref="Restart"/>), as a crashed process
/// restarted by its supervisor would.
/// </summary>
public sealed class FaultClusterFixture() : KblTestCluster(3, "faults")
{
    private readonly List<InProcessSiloHandle> _restarted = [];

    public TreeFaults Faults { get; } = new();

    /// <summary>What Kbl logged on the silos, for a failure's message.</summary>
    public LogTail Log { get; } = new();

    public override IReadOnlyList<InProcessSiloHandle> LiveSilos => [.. Cluster.Silos.Where(s => s.IsActive), .. _restarted.Where(s => s.IsActive)];

    /// <summary>Kills the silo with stable name <paramref name="name"/> (as kill -9 would: frozen first) and waits until the others have noticed.</summary>
    public async Task Kill(string name)
    {
        Faults.Freeze(name);
        var silo = LiveSilos.Single(s => StableName(s.Name) == name);
        await Cluster.KillSiloAsync(silo);
        await UntilActive(LiveSilos.Count);
    }

    /// <summary>Starts silo <paramref name="name"/> again after it was killed (same stable name, same record store) and waits until every silo sees it.</summary>
    public async Task Restart(string name)
    {
        _restarted.Add(await Cluster.StartSiloAsync(int.Parse(name["silo-".Length..], System.Globalization.CultureInfo.InvariantCulture), Cluster.Options));
        await UntilActive(LiveSilos.Count);
    }

    public override async Task DisposeAsync()
    {
        Faults.Dispose();
        foreach (var silo in _restarted.Where(s => s.IsActive))
        {
            await silo.StopSiloAsync(stopGracefully: false);
            await silo.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
    {
        options.FeedbackPeriod = TimeSpan.FromMilliseconds(200);
        return (options, new KblPlacementOptions { RebalancePeriod = TimeSpan.Zero, LoadRefresh = TimeSpan.FromMilliseconds(200) });
    }

    protected override void ConfigureSilo(int index, ISiloBuilder silo)
    {
        silo.Configure<ClusterMembershipOptions>(o => (o.ProbeTimeout, o.NumMissedProbesLimit) = (TimeSpan.FromSeconds(1), 2));

        // A call into a silo that was killed mid-call fails when the silo is declared dead, or after this.
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
        silo.Services.AddSingleton(Faults);
        silo.Services.AddLogging(logging => logging.AddProvider(Log));
        silo.AddIncomingGrainCallFilter<IncomingFaults>();
        silo.AddOutgoingGrainCallFilter<OutgoingFaults>();
    }

    protected override void ConfigureClient(IClientBuilder client) =>
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));

    /// <summary>Waits until every live silo sees exactly the <paramref name="count"/> live silos as active (a crash noticed, a restart joined).</summary>
    private Task UntilActive(int count) => Eventually.Until(
        () => Task.FromResult(LiveSilos.Select(s => s.ServiceProvider.GetRequiredService<ClusterLoad>().ActiveSilos().Count).ToList()),
        seen => seen.Count == count && seen.All(n => n == count),
        TimeSpan.FromSeconds(30),
        $"{count} silos active");
}

[CollectionDefinition(Name)]
public sealed class FaultClusterCollection : ICollectionFixture<FaultClusterFixture>
{
    public const string Name = "fault cluster";
}
