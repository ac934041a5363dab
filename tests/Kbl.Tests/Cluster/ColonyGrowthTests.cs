using System.Collections.Concurrent;
using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>A colony taking 20,000 records divides itself, and every record stays readable, scannable and counted.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class ColonyGrowthTests(ClusterFixture fixture) : IAsyncLifetime
{
    private const int Records = 20_000;
    private const int SplitKeys = 200;
    private const string Colony = "growth";
    private static readonly ConcurrentDictionary<string, int> Written = new();
    private static bool _loaded;

    public async Task InitializeAsync()
    {
        if (_loaded)
        {
            return;
        }

        await Root.Configure(Genome.Default with { SplitKeys = SplitKeys, MergeKeys = 10, Hysteresis = TimeSpan.FromHours(1) });
        var random = new Random(7);
        var keys = Enumerable.Range(0, Records).Select(i => $"user-{random.Next():x8}-{i}").ToArray();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (key, _) =>
        {
            var n = key.GetHashCode() & 0xffff;
            var bytes = KeyOrder.Encode(key);
            var reply = await fixture.Router.Send(Colony, bytes, g => g.Put(bytes, Encoding.UTF8.GetBytes($"{{\"n\":{n},\"name\":\"{key}\"}}"), Precondition.None));
            Assert.Equal(KblStatus.Ok, reply.Status);
            Written[key] = n;
        });
        _loaded = true;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private IKblGrain Root => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(Colony, ColonyNames.RootPath));

    [Fact]
    public async Task The_colony_grows_to_the_depth_its_genome_implies()
    {
        // A leaf over its thresholds asks its parent to divide it, so the last divisions finish just after the writes.
        var tree = await Eventually.Until(
            () => Root.GetTree(), t => TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= SplitKeys), TimeSpan.FromSeconds(30), "every leaf within splitKeys");
        var leaves = TreeWalk.Leaves(tree).ToList();

        Assert.Equal(Records, leaves.Sum(l => l.Feedback.Keys));
        Assert.All(leaves, l => Assert.InRange(l.Feedback.Keys, 0, SplitKeys));
        // At most 200 keys a leaf means at least 100 leaves. Interior KBLs have at most 2 × fanOut (8) children and,
        // but for the root, at least fanOut / 2: the height is between log8 and log2 of the leaves (+1).
        Assert.True(leaves.Count >= Records / SplitKeys, $"{leaves.Count} leaves");
        var height = TreeWalk.Height(tree);
        Assert.InRange(height, (int)Math.Ceiling(Math.Log(leaves.Count, 8)), (int)Math.Ceiling(Math.Log2(leaves.Count)) + 1);
        // Leaves tile the key space: each starts where the previous one ended.
        var ordered = leaves.OrderBy(l => l.Range.Lo, Comparer<byte[]>.Create((a, b) => KeyOrder.Compare(a, b))).ToList();
        Assert.Empty(ordered[0].Range.Lo);
        Assert.Null(ordered[^1].Range.Hi);
        for (var i = 1; i < ordered.Count; i++)
        {
            Assert.Equal(ordered[i - 1].Range.Hi, ordered[i].Range.Lo);
        }
    }

    [Fact]
    public async Task Every_record_reads_back()
    {
        await Parallel.ForEachAsync(Written, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (entry, _) =>
        {
            var key = KeyOrder.Encode(entry.Key);
            var reply = await fixture.Router.Send(Colony, key, g => g.Get(key));
            Assert.Equal(KblStatus.Ok, reply.Status);
            Assert.Contains($"\"n\":{entry.Value},", Encoding.UTF8.GetString(reply.Value!), StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task A_full_scan_returns_every_key_once_in_order()
    {
        var keys = new List<string>();
        await foreach (var record in fixture.Router.Scan(Colony, [], false, null, int.MaxValue))
        {
            keys.Add(KeyOrder.Display(record.Key));
        }

        Assert.Equal(Written.Keys.Order(StringComparer.Ordinal), keys);
    }

    [Fact]
    public async Task A_bounded_scan_starts_and_stops_at_its_bounds()
    {
        var from = "user-4";
        var to = "user-8";
        var keys = new List<string>();
        await foreach (var record in fixture.Router.Scan(Colony, KeyOrder.Encode(from), false, KeyOrder.Encode(to), int.MaxValue))
        {
            keys.Add(KeyOrder.Display(record.Key));
        }

        var expected = Written.Keys.Where(k => string.CompareOrdinal(k, from) >= 0 && string.CompareOrdinal(k, to) < 0).Order(StringComparer.Ordinal);
        Assert.Equal(expected, keys);
    }

    [Theory]
    [InlineData(AggregateOp.Count)]
    [InlineData(AggregateOp.Sum)]
    [InlineData(AggregateOp.Min)]
    [InlineData(AggregateOp.Max)]
    [InlineData(AggregateOp.Avg)]
    public async Task Aggregates_equal_a_direct_computation(AggregateOp op)
    {
        var from = "user-2";
        var to = "user-c";
        var values = Written.Where(e => string.CompareOrdinal(e.Key, from) >= 0 && string.CompareOrdinal(e.Key, to) < 0).Select(e => (double)e.Value).ToList();
        var expected = op switch
        {
            AggregateOp.Count => values.Count,
            AggregateOp.Sum => values.Sum(),
            AggregateOp.Min => values.Min(),
            AggregateOp.Max => values.Max(),
            _ => values.Average(),
        };

        var partial = await Root.Aggregate(new AggregateQuery(KeyOrder.Encode(from), KeyOrder.Encode(to), op, "n"));

        Assert.Equal(KblStatus.Ok, partial.Status);
        Assert.Equal(expected, partial.Result(op)!.Value, precision: 6);
        Assert.Equal(values.Count, partial.Records);
        Assert.True(partial.Leaves > 1, "the aggregate ran in several leaves");
    }
}
