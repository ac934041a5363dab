using CsCheck;
using Kbl.Keys;

namespace Kbl.Tests.Keys;

[Trait("Category", Category.Unit)]
public sealed class KeyRangeProperties
{
    private static readonly Gen<byte[]> Key = Gen.Byte[0, 6].Array[0, 5];

    /// <summary>A range and boundaries strictly inside it, in order.</summary>
    private static readonly Gen<(KeyRange Range, List<byte[]> Boundaries)> RangeWithBoundaries =
        Key.Array[2, 12].Select(keys =>
        {
            var distinct = keys.Distinct(ByteArrayComparer.Instance).OrderBy(k => k, ByteArrayComparer.Instance).ToList();
            var range = new KeyRange(distinct[0], distinct.Count > 1 && distinct.Count % 2 == 0 ? distinct[^1] : null);
            var inside = distinct.Skip(1).Where(k => range.Contains(k)).ToList();
            return (range, inside);
        });

    [Fact]
    public void Split_ranges_tile_the_parent_exactly() =>
        RangeWithBoundaries.Sample(t =>
        {
            var parts = t.Range.SplitAt(t.Boundaries);
            Assert.Equal(t.Boundaries.Count + 1, parts.Count);
            Assert.Equal(t.Range.Lo, parts[0].Lo);
            Assert.Equal(t.Range.Hi, parts[^1].Hi);
            for (var i = 1; i < parts.Count; i++)
            {
                Assert.Equal(parts[i - 1].Hi, parts[i].Lo);
            }
        });

    [Fact]
    public void Every_key_of_the_parent_is_in_exactly_one_child() =>
        Gen.Select(RangeWithBoundaries, Key).Sample((t, key) =>
        {
            var parts = t.Range.SplitAt(t.Boundaries);
            Assert.Equal(t.Range.Contains(key) ? 1 : 0, parts.Count(p => p.Contains(key)));
        });

    [Fact]
    public void Overlap_agrees_with_membership() =>
        Gen.Select(RangeWithBoundaries, Key, Key).Sample((t, a, b) =>
        {
            var (from, to) = KeyOrder.Compare(a, b) <= 0 ? (a, b) : (b, a);
            if (KeyOrder.Compare(from, to) == 0)
            {
                return;
            }

            // [from, to) overlaps the range iff some key in [from, to) is in the range: from itself, or the range's lo.
            var expected = t.Range.Contains(from) || (KeyOrder.Compare(t.Range.Lo, from) >= 0 && KeyOrder.Compare(t.Range.Lo, to) < 0);
            Assert.Equal(expected, t.Range.Overlaps(from, to));
        });

    [Fact]
    public void Successor_is_the_next_key_in_order() =>
        Gen.Select(Key, Key).Sample((a, b) =>
        {
            var next = KeyOrder.Successor(a);
            Assert.True(KeyOrder.Compare(next, a) > 0);
            // Nothing lies strictly between a key and its successor.
            Assert.False(KeyOrder.Compare(b, a) > 0 && KeyOrder.Compare(b, next) < 0);
        });

    [Fact]
    public void Boundaries_outside_the_range_are_refused() =>
        Assert.Throws<ArgumentException>(() => new KeyRange([5], [9]).SplitAt([[9]]));
}

internal sealed class ByteArrayComparer : IComparer<byte[]>, IEqualityComparer<byte[]>
{
    public static readonly ByteArrayComparer Instance = new();

    public int Compare(byte[]? x, byte[]? y) => KeyOrder.Compare(x, y);

    public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(byte[] obj) => obj.Length == 0 ? 0 : obj[0] ^ (obj.Length << 8);
}
