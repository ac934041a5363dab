using Kbl.Keys;

namespace Kbl.Tree;

/// <summary>
/// Chooses where a leaf divides. Given its records (or sampled accesses) in key order with a weight each (bytes,
/// or hits for a load-triggered split), it picks up to <c>fanOut - 1</c> boundary keys so that every child gets
/// at most <c>total / fanOut + heaviest item</c>: roughly equal shares, with boundaries taken from real keys. Two
/// or more distinct keys always divide.
/// </summary>
public static class SplitPlanner
{
    public static IReadOnlyList<byte[]> ChooseBoundaries(IEnumerable<(byte[] Key, long Weight)> orderedItems, int fanOut, KeyRange range)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fanOut, 2);
        var items = orderedItems.ToList();
        var total = items.Sum(i => i.Weight);
        var boundaries = new List<byte[]>(fanOut - 1);
        if (items.Count < 2 || total <= 0)
        {
            return boundaries;
        }

        long before = 0;
        var next = 1;
        foreach (var (key, weight) in items)
        {
            // The first item whose middle reaches next/fanOut of the total starts the next child (the middle, not its
            // start: a heavy last item must still get a child of its own).
            while (next < fanOut && ((2 * before) + weight) * fanOut >= 2 * total * next)
            {
                if (before > 0 && range.Contains(key) && KeyOrder.Compare(key, range.Lo) > 0 &&
                    (boundaries.Count == 0 || KeyOrder.Compare(key, boundaries[^1]) > 0))
                {
                    boundaries.Add(key);
                }

                next++;
            }

            before += weight;
        }

        return boundaries;
    }

    /// <summary>Merges sampled accesses into distinct keys in key order, each weighted by its hits.</summary>
    public static IEnumerable<(byte[] Key, long Weight)> CountAccesses(IEnumerable<byte[]> sampledKeys)
    {
        var sorted = sampledKeys.OrderBy(k => k, ByteOrder.Instance).ToList();
        for (var i = 0; i < sorted.Count;)
        {
            var j = i;
            while (j < sorted.Count && sorted[j].AsSpan().SequenceEqual(sorted[i]))
            {
                j++;
            }

            yield return (sorted[i], j - i);
            i = j;
        }
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => KeyOrder.Compare(x, y);
    }
}
