using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Kbl.Keys;
using Kbl.Tree;

namespace Kbl.Benchmarks;

/// <summary>A leaf choosing where to divide: by size over all its records, or by load over sampled accesses.</summary>
[MemoryDiagnoser]
public class SplitPlannerBenchmarks
{
    private (byte[] Key, long Weight)[] _items = [];
    private byte[][] _samples = [];

    /// <summary>Records in the leaf (50,000 is the default genome's split threshold).</summary>
    [Params(1_000, 50_000)]
    public int Items { get; set; }

    [Params(4, 16)]
    public int FanOut { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _items = Enumerable.Range(0, Items)
            .Select(i => (Encoding.UTF8.GetBytes("key-" + i.ToString("D12", CultureInfo.InvariantCulture)), (long)random.Next(50, 5_000)))
            .ToArray();
        // A leaf's meter keeps at most 4,096 sampled keys.
        _samples = Enumerable.Range(0, Math.Min(Items, 4_096))
            .Select(_ => _items[random.Next(_items.Length)].Key)
            .ToArray();
    }

    [Benchmark]
    public IReadOnlyList<byte[]> ChooseBoundaries() => SplitPlanner.ChooseBoundaries(_items, FanOut, KeyRange.All);

    [Benchmark]
    public IReadOnlyList<byte[]> ChooseBoundariesFromSampledAccesses() =>
        SplitPlanner.ChooseBoundaries(SplitPlanner.CountAccesses(_samples), FanOut, KeyRange.All);
}
