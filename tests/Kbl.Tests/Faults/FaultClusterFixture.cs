using Kbl.Tests.Cluster;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Kbl.Tests.Faults;

/// <summary>
/// Three crashable silos with <see cref="TreeFaults"/> on every one of them, and calls into a killed silo that fail
/// within 5 s; <see cref="Kill"/> freezes a silo before it kills it, so it does nothing a SIGKILLed process could not.
/// </summary>
public sealed class FaultClusterFixture() : CrashableCluster(3, "faults")
{
    public TreeFaults Faults { get; } = new();

    /// <summary>What Kbl logged on the silos, for a failure's message.</summary>
    public LogTail Log { get; } = new();

    /// <summary>Kills the silo with stable name <paramref name="name"/> (as kill -9 would: frozen first) and waits until the others have noticed.</summary>
    public async Task Kill(string name)
    {
        Faults.Freeze(name);
        var silo = LiveSilos.Single(s => StableName(s.Name) == name);
        await Cluster.KillSiloAsync(silo);
        await UntilActive(LiveSilos.Count);
    }

    /// <summary>Stops the silo with stable name <paramref name="name"/> as SIGTERM would (it drains first) and waits until the others have noticed.</summary>
    public async Task Drain(string name)
    {
        var silo = LiveSilos.Single(s => StableName(s.Name) == name);
        await Cluster.StopSiloAsync(silo);
        await UntilActive(LiveSilos.Count);
    }

    /// <summary>Starts silo <paramref name="name"/> again after it was killed (same stable name, same record store) and waits until every silo sees it.</summary>
    public async Task Restart(string name)
    {
        await Restart(Index(name));
        await UntilActive(LiveSilos.Count);
    }

    /// <summary>
    /// Starts silo <paramref name="name"/> again after it was killed, on a new, empty disk (its record store's folder
    /// deleted), as a machine replaced under the same name would.
    /// </summary>
    public async Task RestartOnNewDisk(string name)
    {
        Directory.Delete(Path.Combine(Root, name), recursive: true);
        await Restart(name);
    }

    /// <summary>Starts silo <paramref name="name"/> again (see <see cref="Restart"/>) unless it is up.</summary>
    public async Task EnsureUp(string name)
    {
        if (LiveSilos.All(s => StableName(s.Name) != name))
        {
            await Restart(name);
        }
    }

    public override async Task DisposeAsync()
    {
        Faults.Dispose();
        await base.DisposeAsync();
    }

    protected override void ConfigureSilo(int index, ISiloBuilder silo)
    {
        base.ConfigureSilo(index, silo);

        // A call into a silo that was killed mid-call fails when the silo is declared dead, or after this.
        silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
        SiloFaults.AddTo(silo, Faults);
        silo.Services.AddSingleton<Kbl.ColdTier.IColdTier>(sp => new FaultyColdTier(
            new Kbl.ColdTier.LocalColdTier(ColdTierPath), Faults, sp.GetRequiredService<Kbl.Placement.SiloIdentity>(), sp.GetRequiredService<ILocalSiloDetails>()));
        silo.Services.AddLogging(logging => logging.AddProvider(Log));
    }

    protected override void ConfigureClient(IClientBuilder client)
    {
        client.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));

        // The test client's list of gateways follows the silos drained, killed and started again within a second (the
        // default, a minute, left a drained silo's gateway in it for the next test's first call to fail on).
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
    }
}

[CollectionDefinition(Name)]
public sealed class FaultClusterCollection : ICollectionFixture<FaultClusterFixture>
{
    public const string Name = "fault cluster";
}
