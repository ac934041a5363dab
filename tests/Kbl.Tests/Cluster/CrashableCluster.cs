using Kbl.Hosting;
using Kbl.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.TestingHost;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Silos of one group whose failures are noticed within seconds (a 1 s probe, two missed), feedback every 200 ms and
/// no rebalancing; a silo killed can start again with its name and disk (<see cref="Restart"/>), as a crashed
/// process restarted by its supervisor would. What the crash and fault fixtures share.
/// </summary>
public abstract class CrashableCluster(int silos, string name) : KblTestCluster(silos, name)
{
    private readonly List<InProcessSiloHandle> _restarted = [];

    public override IReadOnlyList<InProcessSiloHandle> LiveSilos => [.. Cluster.Silos.Where(s => s.IsActive), .. _restarted.Where(s => s.IsActive)];

    /// <summary>Starts silo <paramref name="index"/> again after it was killed: same stable name, same record store.</summary>
    public async Task Restart(int index) => _restarted.Add(await Cluster.StartSiloAsync(index, Cluster.Options));

    /// <summary>Waits until every live silo sees <paramref name="count"/> active silos (a crash noticed, a restart joined).</summary>
    public Task UntilActive(int count) => Eventually.Until(
        () => Task.FromResult(string.Join(" | ", LiveSilos.Select(s =>
            $"{StableName(s.Name)} sees {string.Join('+', s.ServiceProvider.GetRequiredService<ClusterLoad>().ActiveSilos().Select(a => a.Identity.Name).Order(StringComparer.Ordinal))}"))),
        seen => seen.Split(" | ") is { } views && views.Length == count && views.All(v => v.Split(" sees ")[1].Split('+').Length == count),
        TimeSpan.FromSeconds(30),
        $"{count} silos active");

    public override async Task DisposeAsync()
    {
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
        options.StrayCopySweepDelay = TimeSpan.Zero; // a silo started again sweeps its stray copies at once
        options.StrayCopySweepPeriod = TimeSpan.Zero; // and only then: a test sweeps again when it says so (StrayCopySweeper.SweepNow)
        options.Zone = ZoneOf(index);
        return (options, new KblPlacementOptions { RebalancePeriod = TimeSpan.Zero, LoadRefresh = TimeSpan.FromMilliseconds(200) });
    }

    /// <summary>Silos 0 and 1 in zone <c>zone-a</c>, the others in <c>zone-b</c>: replicas must look for the other zone first.</summary>
    public static string ZoneOf(int index) => index < 2 ? "zone-a" : "zone-b";

    protected override void ConfigureSilo(int index, ISiloBuilder silo) =>
        silo.Configure<ClusterMembershipOptions>(o => (o.ProbeTimeout, o.NumMissedProbesLimit) = (TimeSpan.FromSeconds(1), 2));
}
