using System.Text;
using System.Text.Json;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Silo.Gateway;
using Kbl.Storage;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;

namespace Kbl.Tests.Cluster;

/// <summary>
/// A colony written by an earlier version — a chain 80 levels deep, as ascending keys made it, with no parents or
/// child counters in its state — is served as it is after the upgrade: every record reads, scans and aggregates;
/// the tree answers at that depth (nested and flat); and new growth at its end is balanced.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class LegacyShapeTests(ClusterFixture fixture)
{
    private const string Colony = "legacy-chain";
    private const int Levels = 80;
    private const int RecordsPerLeaf = 3;

    [Fact]
    public async Task A_chain_from_an_earlier_version_is_served_and_grows_balanced_at_its_end()
    {
        var keys = await WriteChainOnDisk();
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(Colony, ColonyNames.RootPath));

        foreach (var key in keys)
        {
            var bytes = KeyOrder.Encode(key);
            Assert.Equal(key, Encoding.UTF8.GetString((await fixture.Router.Send(Colony, bytes, g => g.Get(bytes))).Value ?? []));
        }

        var scanned = await fixture.Router.Scan(Colony, [], exclusive: false, to: null, limit: int.MaxValue).Select(r => KeyOrder.Display(r.Key)).ToListAsync();
        Assert.Equal(keys, scanned);
        var count = await root.Aggregate(new AggregateQuery([], null, AggregateOp.Count, null));
        Assert.Equal(keys.Count, count.Records);

        // The tree answers at that depth: nested past System.Text.Json's default limit of 64, and flat.
        var tree = await root.GetTree();
        Assert.Equal(Levels, TreeWalk.Height(tree));
        using var nested = JsonDocument.Parse(JsonSerializer.Serialize(ApiJson.Tree(tree), ApiJson.TreeOptions), new JsonDocumentOptions { MaxDepth = 4096 });
        var deepest = nested.RootElement;
        while (deepest.GetProperty("children").GetArrayLength() > 0)
        {
            deepest = deepest.GetProperty("children")[deepest.GetProperty("children").GetArrayLength() - 1];
        }

        Assert.Equal(Levels, deepest.GetProperty("depth").GetInt32());
        using var flat = JsonDocument.Parse(JsonSerializer.Serialize(ApiJson.FlatTree(tree), ApiJson.TreeOptions));
        Assert.Equal(TreeWalk.All(tree).Count(), flat.RootElement.GetProperty("kbls").GetArrayLength());

        // Growth at the end of the chain: the last leaf divides into siblings under its (legacy) parent, which
        // divides in turn; the chain gets no deeper than a balanced subtree needs.
        var added = Enumerable.Range(0, 400).Select(i => $"z{i:d5}").ToList();
        foreach (var key in added)
        {
            var bytes = KeyOrder.Encode(key);
            Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(Colony, bytes, g => g.Put(bytes, bytes, Precondition.None))).Status);
        }

        var grown = await Eventually.Until(
            () => root.GetTree(),
            t => TreeWalk.All(t).All(k => k.Role == KblRole.Leaf ? k.Feedback.Keys <= 20 : k.Children.Count <= 8),
            TimeSpan.FromSeconds(60),
            "the end of the chain divided");
        var newLeaves = TreeWalk.Leaves(grown).Count(l => l.Range.Hi is null || KeyOrder.Compare(l.Range.Hi, KeyOrder.Encode("z")) > 0);
        Assert.InRange(TreeWalk.Height(grown), Levels, Levels + (int)Math.Ceiling(Math.Log2(newLeaves)) + 1);
        foreach (var key in keys.Concat(added))
        {
            var bytes = KeyOrder.Encode(key);
            Assert.Equal(KblStatus.Ok, (await fixture.Router.Send(Colony, bytes, g => g.Get(bytes))).Status);
        }
    }

    /// <summary>
    /// Writes the chain straight into silo-0's stores, as the earlier version left it: path p has a leaf child p.0
    /// for one slice of keys and an interior child p.1 for the rest, 80 times; states without parents or counters.
    /// </summary>
    private async Task<List<string>> WriteChainOnDisk()
    {
        var silo = fixture.Cluster.Silos.Single(s => ClusterFixture.StableName(s.Name) == "silo-0");
        var storage = silo.ServiceProvider.GetRequiredKeyedService<IGrainStorage>(KblStorage.Name);
        var records = silo.ServiceProvider.GetRequiredService<RecordStore>();
        var genome = Genome.Default with { SplitKeys = 20, MergeKeys = 1, Hysteresis = TimeSpan.FromHours(1) };
        var keys = new List<string>();
        var path = ColonyNames.RootPath;
        byte[] Bound(int level) => KeyOrder.Encode($"k{level:d3}");

        for (var level = 0; level < Levels; level++)
        {
            var lo = level == 0 ? [] : Bound(level);
            var leaf = new ChildRef(ColonyNames.ChildPath(path, 0), new KeyRange(lo, Bound(level + 1)));
            var rest = new ChildRef(ColonyNames.ChildPath(path, 1), new KeyRange(Bound(level + 1), null));
            await Write(storage, path, new KblState { Role = KblRole.Interior, Range = new KeyRange(lo, null), Children = [leaf, rest], Epoch = 1, Genome = genome, Home = "silo-0", Depth = level, Generation = 1 });
            await Write(storage, leaf.Path, new KblState { Role = KblRole.Leaf, Range = leaf.Range, Epoch = 1, Genome = genome, Home = "silo-0", Depth = level + 1, Generation = 1 });
            for (var i = 0; i < RecordsPerLeaf; i++)
            {
                var key = $"k{level:d3}-{i}";
                keys.Add(key);
                records.Write(Colony, KeyOrder.Encode(key), Encoding.UTF8.GetBytes(key), version: (level * RecordsPerLeaf) + i + 1, ColonyNames.KblId(Colony, leaf.Path), (level * RecordsPerLeaf) + i + 1);
            }

            path = rest.Path;
        }

        // The last one: a leaf holding everything from k080 on.
        await Write(storage, path, new KblState { Role = KblRole.Leaf, Range = new KeyRange(Bound(Levels), null), Epoch = 1, Genome = genome, Home = "silo-0", Depth = Levels, Generation = 1 });
        await fixture.Grains.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key).Register(Colony);
        return keys;
    }

    private static Task Write(IGrainStorage storage, string path, KblState state) =>
        storage.WriteStateAsync(KblStorage.KblStateName, GrainId.Create("kbl", ColonyNames.KblId(Colony, path)), new GrainState<KblState>(state));
}
