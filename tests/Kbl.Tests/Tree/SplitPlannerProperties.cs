using CsCheck;
using Kbl.Keys;
using Kbl.Tests.Keys;
using Kbl.Tree;

namespace Kbl.Tests.Tree;

[Trait("Category", Category.Unit)]
public sealed class SplitPlannerProperties
{
    /// <summary>Distinct keys in order, each with a weight (record bytes or hits).</summary>
    private static readonly Gen<List<(byte[] Key, long Weight)>> Items =
        Gen.Select(Gen.Byte.Array[1, 4], Gen.Long[1, 1000]).Array[0, 200].Select(items => items
            .DistinctBy(i => Convert.ToHexString(i.Item1))
            .OrderBy(i => i.Item1, ByteArrayComparer.Instance)
            .Select(i => (i.Item1, i.Item2))
            .ToList());

    [Fact]
    public void Boundaries_are_real_keys_strictly_inside_the_range_and_increasing() =>
        Gen.Select(Items, Gen.Int[2, 16]).Sample((items, fanOut) =>
        {
            var boundaries = SplitPlanner.ChooseBoundaries(items, fanOut, KeyRange.All);
            Assert.InRange(boundaries.Count, 0, fanOut - 1);
            Assert.All(boundaries, b => Assert.Contains(items, i => i.Key.AsSpan().SequenceEqual(b)));
            Assert.All(boundaries, b => Assert.True(KeyOrder.Compare(b, KeyRange.All.Lo) > 0));
            for (var i = 1; i < boundaries.Count; i++)
            {
                Assert.True(KeyOrder.Compare(boundaries[i - 1], boundaries[i]) < 0);
            }
        });

    [Fact]
    public void Every_child_gets_at_most_an_equal_share_plus_one_item() =>
        Gen.Select(Items, Gen.Int[2, 16]).Sample((items, fanOut) =>
        {
            var boundaries = SplitPlanner.ChooseBoundaries(items, fanOut, KeyRange.All);
            var total = items.Sum(i => i.Weight);
            var heaviest = items.Count == 0 ? 0 : items.Max(i => i.Weight);
            foreach (var child in KeyRange.All.SplitAt(boundaries))
            {
                var share = items.Where(i => child.Contains(i.Key)).Sum(i => i.Weight);
                Assert.True(share * fanOut <= total + (fanOut * heaviest), $"child {child} has {share} of {total}");
            }
        });

    [Fact]
    public void Two_or_more_distinct_keys_always_divide() =>
        Gen.Select(Items, Gen.Int[2, 16]).Where((items, _) => items.Count >= 2).Sample((items, fanOut) =>
            Assert.NotEmpty(SplitPlanner.ChooseBoundaries(items, fanOut, KeyRange.All)));

    [Fact]
    public void Sampled_accesses_count_hits_per_key_in_key_order()
    {
        var sampled = new[] { "b", "a", "b", "c", "b" }.Select(KeyOrder.Encode);
        var counted = SplitPlanner.CountAccesses(sampled).Select(i => (KeyOrder.Display(i.Key), i.Weight)).ToList();
        Assert.Equal([("a", 1L), ("b", 3L), ("c", 1L)], counted);
    }
}
