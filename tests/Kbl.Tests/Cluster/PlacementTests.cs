using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tests.Cluster;

/// <summary>Records sit on their KBL's home silo; deactivated KBLs come back there, so nothing is lost.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class PlacementTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Records_survive_deactivation_because_KBLs_return_to_their_home_silo()
    {
        // Twelve colonies, so that their KBLs live on every silo of the cluster.
        var colonies = Enumerable.Range(0, 12).Select(i => $"homes-{i}").ToList();
        foreach (var colony in colonies)
        {
            await Root(colony).Configure(Genome.Default with { SplitKeys = 50, MergeKeys = 1, Hysteresis = TimeSpan.FromHours(1) });
            for (var i = 0; i < 120; i++)
            {
                var key = KeyOrder.Encode($"{colony}-{i:d3}");
                Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(colony, key, g => g.Put(key, Encoding.UTF8.GetBytes($"v{i}"), Precondition.None))).Status);
            }
        }

        // Divisions finish just after the writes (a leaf asks its parent): let them, so the homes below are final.
        foreach (var colony in colonies)
        {
            await Eventually.Until(() => Root(colony).GetTree(), t => TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= 50), TimeSpan.FromSeconds(30), $"{colony} divided");
        }

        var homesBefore = await Homes(colonies);
        Assert.True(homesBefore.Values.Distinct().Count() > 1, "KBLs spread over more than one silo");

        foreach (var id in homesBefore.Keys.Concat(colonies.Select(c => ColonyNames.KblId(c, ColonyNames.RootPath))))
        {
            var kbl = fixture.Grains.GetGrain<IKblGrain>(id);
            await fixture.Cluster.DeactivateAsync(kbl);
            await fixture.Cluster.WaitForDeactivationAsync(kbl);
        }

        foreach (var colony in colonies)
        {
            for (var i = 0; i < 120; i++)
            {
                var key = KeyOrder.Encode($"{colony}-{i:d3}");
                var read = await fixture.Router.Send(colony, key, g => g.Get(key));
                Assert.Equal(KblStatus.Ok, read.Status);
                Assert.Equal($"v{i}", Encoding.UTF8.GetString(read.Value!));
            }
        }

        var homesAfter = await Homes(colonies);
        Assert.Equal(homesBefore, homesAfter);
        foreach (var colony in colonies)
        {
            // Each KBL runs where its state says its home is: the tree reports the silo that holds it.
            var tree = await Root(colony).GetTree();
            Assert.All(TreeWalk.Leaves(tree), leaf => Assert.Equal(homesBefore[leaf.Id], leaf.Silo));
        }
    }

    private IKblGrain Root(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));

    private async Task<Dictionary<string, string>> Homes(IEnumerable<string> colonies)
    {
        var homes = new Dictionary<string, string>();
        foreach (var colony in colonies)
        {
            foreach (var leaf in TreeWalk.Leaves(await Root(colony).GetTree()))
            {
                homes[leaf.Id] = leaf.Silo;
            }
        }

        return homes;
    }
}
