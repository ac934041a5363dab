using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Placement;
using Kbl.Tests.Faults;
using Kbl.Silo.Routing;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Two in-process silos, each the only one of its node group: silo-0 in group <c>a</c>, silo-1 in group <c>w</c>
/// (silos started later join <c>w</c>); a missing group is waited for 2 s.
/// </summary>
public sealed class LastSiloClusterFixture() : KblTestCluster(2, "last-silo")
{
    protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
    {
        options.NodeGroup = index == 0 ? "a" : "w";
        options.FeedbackPeriod = TimeSpan.FromMilliseconds(200);
        return (options, new KblPlacementOptions { LoadRefresh = TimeSpan.FromMilliseconds(200), RebalancePeriod = TimeSpan.Zero, WaitForGroup = TimeSpan.FromSeconds(2) });
    }
}

/// <summary>
/// The last silo of a node group stops (its group going to zero): the awake leaves of a colony that hibernates idle
/// leaves hibernate rather than stay homed on a silo that is gone, and wake on the next silo of the group.
/// </summary>
[Trait("Category", Category.Cluster)]
public sealed class LastSiloTests(LastSiloClusterFixture fixture) : IClassFixture<LastSiloClusterFixture>
{
    [Fact]
    public async Task The_last_silo_of_a_group_hibernates_its_window_leaves_and_a_new_silo_of_the_group_wakes_them()
    {
        // Awake for an hour of idleness yet: only the stop of its group's last silo makes it sleep.
        var colony = $"l{Guid.NewGuid():N}"[..12];
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await root.Configure(Genome.Default with { NodeGroup = "w", HibernateAfter = TimeSpan.FromHours(1) });
        var model = new ColonyModel(fixture.Router, colony);
        for (var i = 0; i < 100; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        Assert.Equal("silo-1", (await root.GetTree(0, hotPath: false)).Silo);
        await fixture.Cluster.StopSiloAsync(fixture.Cluster.Silos.Single(s => KblTestCluster.StableName(s.Name) == "silo-1"));

        // Its records are in the cold tier; its state is read on the silo left (of another group), which wakes nothing.
        var asleep = await root.GetTree(0, hotPath: false);
        Assert.Equal(100, asleep.Hibernation?.Records);
        var refused = await Assert.ThrowsAsync<KblStatusException>(() => model.Check());
        Assert.Contains("'w'", refused.Message, StringComparison.Ordinal);

        // A silo of the group joins (the provisioning loop would start it): the next read wakes the leaf there.
        var joined = await fixture.Cluster.StartAdditionalSiloAsync();
        await Eventually.Until(
            async () => { await model.Touch(); return await root.ViewOrNull(); },
            v => v is { Hibernation: null } && v.Silo == KblTestCluster.StableName(joined.Name),
            TimeSpan.FromSeconds(60),
            "the leaf awake on the new silo of group w");
        await model.Check();
    }
}
