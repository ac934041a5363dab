using System.Collections.Concurrent;
using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>Splits and merges under load: no acknowledged write is lost, no read is stale, no client sees an error.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class ShapeChangeTests(ClusterFixture fixture)
{
    private IKblGrain Root(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));

    [Fact]
    public async Task Concurrent_writers_lose_nothing_while_the_colony_divides()
    {
        const string colony = "concurrent";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 100, MergeKeys = 5, Hysteresis = TimeSpan.FromHours(1) });
        var acknowledged = new ConcurrentDictionary<string, (long Version, string Value)>();
        var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            for (var i = 0; i < 600; i++)
            {
                // Each writer owns its keys and rewrites some of them, so the last acknowledged value is known.
                var key = $"w{w}-{random.Next(400):d4}";
                var value = $"{w}:{i}";
                var bytes = KeyOrder.Encode(key);
                var reply = await fixture.Router.Send(colony, bytes, g => g.Put(bytes, Encoding.UTF8.GetBytes(value), Precondition.None));
                Assert.Equal(KblStatus.Ok, reply.Status);
                var previous = acknowledged.GetValueOrDefault(key);
                Assert.True(reply.Version > previous.Version, $"version of {key} went from {previous.Version} to {reply.Version}");
                acknowledged[key] = (reply.Version, value);

                // Read your write, through whatever split is under way: never older than what was acknowledged.
                var read = await fixture.Router.Send(colony, bytes, g => g.Get(bytes));
                Assert.Equal(KblStatus.Ok, read.Status);
                Assert.True(read.Version >= reply.Version, $"read of {key} returned version {read.Version} after {reply.Version} was acknowledged");
            }
        })).ToList();
        await Task.WhenAll(writers);

        var tree = await Root(colony).GetTree();
        Assert.True(TreeWalk.Leaves(tree).Count() > 4, "the colony divided while it was written");
        foreach (var (key, (version, value)) in acknowledged)
        {
            var bytes = KeyOrder.Encode(key);
            var read = await fixture.Router.Send(colony, bytes, g => g.Get(bytes));
            Assert.Equal(value, Encoding.UTF8.GetString(read.Value!));
            Assert.Equal(version, read.Version);
        }

        Assert.Equal(acknowledged.Count, TreeWalk.Leaves(tree).Sum(l => l.Feedback.Keys));
    }

    [Fact]
    public async Task A_cold_subtree_fuses_back_into_its_parent()
    {
        const string colony = "cooling";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 100, MergeKeys = 40, Hysteresis = TimeSpan.FromMilliseconds(600) });
        var keys = Enumerable.Range(0, 150).Select(i => KeyOrder.Encode($"k{i:d4}")).ToList();
        foreach (var key in keys)
        {
            Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(colony, key, g => g.Put(key, key, Precondition.None))).Status);
        }

        Assert.Equal(KblRole.Interior, (await Root(colony).GetTree()).Role);

        // Delete all but 30 records: together the children fall under mergeKeys (40) and go quiet.
        foreach (var key in keys.Skip(30))
        {
            Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(colony, key, g => g.Delete(key, Precondition.None))).Status);
        }

        var merged = await Eventually.Until(() => Root(colony).GetTree(), t => t.Role == KblRole.Leaf, TimeSpan.FromSeconds(30), "the merge");

        Assert.Equal(30, merged.Feedback.Keys);
        foreach (var key in keys.Take(30))
        {
            var read = await fixture.Router.Send(colony, key, g => g.Get(key));
            Assert.Equal(key, read.Value);
        }

        foreach (var key in keys.Skip(30))
        {
            Assert.Equal(KblStatus.NotFound, (await fixture.Router.Send(colony, key, g => g.Get(key))).Status);
        }
    }

    [Fact]
    public async Task A_hot_leaf_divides_by_load_where_the_load_is()
    {
        const string colony = "hot";
        await Root(colony).Configure(Genome.Default with { SplitOpsPerSecond = 200, MergeOpsPerSecond = 1, Hysteresis = TimeSpan.FromHours(1) });
        var keys = Enumerable.Range(0, 40).Select(i => KeyOrder.Encode($"h{i:d3}")).ToList();
        foreach (var key in keys)
        {
            await fixture.Router.Send(colony, key, g => g.Put(key, key, Precondition.None));
        }

        // Read a narrow hot range (h000..h009) until the root divides on load.
        var hot = keys.Take(10).ToList();
        var tree = await Eventually.Until(
            async () =>
            {
                for (var i = 0; i < 200; i++)
                {
                    var key = hot[i % hot.Count];
                    await fixture.Router.Send(colony, key, g => g.Get(key));
                }

                return await Root(colony).GetTree();
            },
            t => t.Role == KblRole.Interior,
            TimeSpan.FromSeconds(30),
            "a load-triggered split");

        // Chosen by load, the boundaries fall inside the hot range, not at the middle of the data; and the
        // children of a load split spread over the group's silos (the cluster has three), taking the load along.
        Assert.True(KeyOrder.Compare(tree.Children[0].Range.Hi!, KeyOrder.Encode("h010")) <= 0, $"first child is {tree.Children[0].Range}");
        Assert.Equal(3, tree.Children.Select(c => c.Silo).Distinct().Count());
        foreach (var key in keys)
        {
            Assert.Equal(key, (await fixture.Router.Send(colony, key, g => g.Get(key))).Value);
        }
    }

    [Fact]
    public async Task Conditional_writes_conflict_correctly()
    {
        const string colony = "conditional";
        await Root(colony).Configure(Genome.Default);
        var key = KeyOrder.Encode("account-1");
        Task<WriteResult> Put(string value, Precondition condition) =>
            fixture.Router.Send(colony, key, g => g.Put(key, Encoding.UTF8.GetBytes(value), condition));

        var created = await Put("a", new Precondition(null, IfNoneMatch: true));
        Assert.Equal(KblStatus.Ok, created.Status);
        Assert.Equal(KblStatus.PreconditionFailed, (await Put("b", new Precondition(null, IfNoneMatch: true))).Status);

        var updated = await Put("c", new Precondition(created.Version, false));
        Assert.Equal(KblStatus.Ok, updated.Status);
        var stale = await Put("d", new Precondition(created.Version, false));
        Assert.Equal(KblStatus.PreconditionFailed, stale.Status);
        Assert.Equal(updated.Version, stale.Version);
        Assert.Equal("c", Encoding.UTF8.GetString((await fixture.Router.Send(colony, key, g => g.Get(key))).Value!));

        Assert.Equal(KblStatus.PreconditionFailed, (await fixture.Router.Send(colony, key, g => g.Delete(key, new Precondition(created.Version, false)))).Status);
        Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(colony, key, g => g.Delete(key, new Precondition(updated.Version, false)))).Status);

        // Re-created after a delete, the key gets a newer version: an If-Match from before the delete cannot succeed.
        var recreated = await Put("e", Precondition.None);
        Assert.True(recreated.Version > updated.Version);
        Assert.Equal(KblStatus.PreconditionFailed, (await Put("f", new Precondition(updated.Version, false))).Status);
        Assert.Equal(KblStatus.PreconditionFailed, (await fixture.Router.Send(colony, KeyOrder.Encode("nobody"), g => g.Put(KeyOrder.Encode("nobody"), [1], new Precondition(null, false, IfExists: true)))).Status);
    }
}
