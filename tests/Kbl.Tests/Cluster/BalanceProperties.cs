using System.Text;
using CsCheck;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Whatever order keys arrive in, a colony stays a shallow tree: after every run the leaves tile the key space,
/// every leaf is within its genome's thresholds, every interior KBL but the root has at least half a fan-out of
/// children, and the height is at most ⌈log_{fanOut/2}(leaves)⌉ + 1 (base 2 for fan-outs under 4). Every record
/// written is read back.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class BalanceProperties(ClusterFixture fixture)
{
    private static int _runs;

    public enum Order
    {
        Ascending,
        Descending,
        Random,
        Zipf,
        MovingHotRange,
        InterleavedDeletes,
    }

    [Fact]
    public Task The_tree_stays_balanced_for_any_insertion_order() =>
        Gen.Select(Gen.Enum<Order>(), Gen.Int[150, 700], Gen.OneOf(2, 3, 4, 6), Gen.Int[8, 30], Gen.Int)
            .SampleAsync(
                async (order, count, fanOut, splitKeys, seed) => await Run(order, count, fanOut, splitKeys, seed),
                iter: 12,
                threads: 1,
                print: t => $"{t.Item1} {t.Item2} keys, fanOut {t.Item3}, splitKeys {t.Item4}, seed {t.Item5}");

    private async Task Run(Order order, int count, int fanOut, int splitKeys, int seed)
    {
        var colony = $"balance-{Interlocked.Increment(ref _runs)}";
        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await root.Configure(Genome.Default with { FanOut = fanOut, SplitKeys = splitKeys, MergeKeys = 1, Hysteresis = TimeSpan.FromHours(1) });

        var live = new Dictionary<string, string>();
        var random = new Random(seed);
        var operations = Operations(order, count, random).ToList();

        // Four writers, each taking the operations on its share of the keys in sequence order: the order holds
        // roughly, divisions meet concurrency, and each key's operations keep their order.
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            foreach (var (key, delete) in operations.Where(o => (uint)StringComparer.Ordinal.GetHashCode(o.Key) % 4 == w))
            {
                var bytes = KeyOrder.Encode(key);
                var reply = delete
                    ? await fixture.Router.Send(colony, bytes, g => g.Delete(bytes, Precondition.None))
                    : await fixture.Router.Send(colony, bytes, g => g.Put(bytes, Encoding.UTF8.GetBytes(key), Precondition.None));
                Assert.True(reply.Status is KblStatus.Ok or KblStatus.NotFound, $"{(delete ? "delete" : "put")} {key}: {reply.Status} {reply.Message}");
            }
        })).ToList();
        await Task.WhenAll(writers);
        foreach (var (key, delete) in operations)
        {
            // The last operation on a key decides.
            if (delete)
            {
                live.Remove(key);
            }
            else
            {
                live[key] = key;
            }
        }

        // Divisions finish just after the writes (a KBL asks its parent, which acts in its own turn).
        var tree = await Eventually.Until(
            () => root.GetTree(),
            t => TreeWalk.All(t).All(k => k.Role == KblRole.Leaf ? k.Feedback.Keys <= splitKeys : k.Children.Count <= 2 * fanOut),
            TimeSpan.FromSeconds(60),
            $"{colony} divided");
        var leaves = TreeWalk.Leaves(tree).ToList();

        AssertTiles(tree);
        Assert.Equal(live.Count, leaves.Sum(l => l.Feedback.Keys));
        var height = TreeWalk.Height(tree);
        var bound = leaves.Count < 2 ? 0 : (int)Math.Ceiling(Math.Log(leaves.Count, Math.Max(2, fanOut / 2.0))) + 1;
        Assert.True(height <= bound, $"height {height} over the bound {bound} for {leaves.Count} leaves (fanOut {fanOut})");
        foreach (var interior in TreeWalk.All(tree).Where(k => k.Role == KblRole.Interior && k.Path != ColonyNames.RootPath))
        {
            Assert.True(interior.Children.Count >= Math.Max(2, fanOut / 2), $"{interior.Path} has {interior.Children.Count} children (fanOut {fanOut})");
            Assert.True(interior.Children.Count <= 2 * fanOut, $"{interior.Path} has {interior.Children.Count} children, over 2 × fanOut {fanOut}");
        }

        foreach (var (key, value) in live)
        {
            var bytes = KeyOrder.Encode(key);
            var read = await fixture.Router.Send(colony, bytes, g => g.Get(bytes));
            Assert.Equal(value, Encoding.UTF8.GetString(read.Value ?? []));
        }
    }

    /// <summary>Every interior KBL's children tile its range, and the root's range is the whole key space.</summary>
    private static void AssertTiles(KblView root)
    {
        Assert.Empty(root.Range.Lo);
        Assert.Null(root.Range.Hi);
        foreach (var interior in TreeWalk.All(root).Where(k => k.Role == KblRole.Interior))
        {
            Assert.Equal(interior.Range.Lo, interior.Children[0].Range.Lo);
            Assert.Equal(interior.Range.Hi, interior.Children[^1].Range.Hi);
            for (var i = 1; i < interior.Children.Count; i++)
            {
                Assert.Equal(interior.Children[i - 1].Range.Hi, interior.Children[i].Range.Lo);
            }
        }
    }

    /// <summary>The keys written (and, for <see cref="Order.InterleavedDeletes"/>, deleted), in order.</summary>
    private static IEnumerable<(string Key, bool Delete)> Operations(Order order, int count, Random random)
    {
        switch (order)
        {
            case Order.Ascending:
                return Enumerable.Range(0, count).Select(i => ($"k{i:d7}", false));
            case Order.Descending:
                return Enumerable.Range(0, count).Reverse().Select(i => ($"k{i:d7}", false));
            case Order.Random:
                return Enumerable.Range(0, count).OrderBy(_ => random.Next()).Select(i => ($"k{i:d7}", false));
            case Order.Zipf:
                // Rank r drawn with probability ∝ 1/r over 4 × count ranks (overwrites included), ranks scattered over the keys.
                var ranks = 4 * count;
                var weights = Enumerable.Range(1, ranks).Select(r => 1.0 / r).ToArray();
                var total = weights.Sum();
                return Enumerable.Range(0, count * 2).Select(_ =>
                {
                    var x = random.NextDouble() * total;
                    var r = 0;
                    while (x > weights[r] && r < ranks - 1)
                    {
                        x -= weights[r++];
                    }

                    return ($"k{(r * 7919) % (ranks * 3):d7}", false);
                });
            case Order.MovingHotRange:
                // A window of 50 keys sliding up the key space: most writes land near its front.
                return Enumerable.Range(0, count).Select(i => ($"k{(i / 2) + random.Next(50):d7}", false));
            default:
                // Random inserts; every fourth operation deletes a key written before.
                var written = new List<string>();
                var operations = new List<(string, bool)>();
                for (var i = 0; i < count; i++)
                {
                    if (i % 4 == 3 && written.Count > 0)
                    {
                        var victim = written[random.Next(written.Count)];
                        operations.Add((victim, true));
                    }
                    else
                    {
                        var key = $"k{random.Next(count * 10):d7}";
                        written.Add(key);
                        operations.Add((key, false));
                    }
                }

                return operations;
        }
    }
}
