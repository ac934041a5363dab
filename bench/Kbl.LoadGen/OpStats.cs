using System.Diagnostics;
using HdrHistogram;

namespace Kbl.LoadGen;

/// <summary>
/// One worker's tally for one kind of request: latencies of the successes (in <see cref="Stopwatch"/> ticks) and
/// every failure by kind. Workers keep their own and the runner adds them up at the end, so recording takes no lock.
/// </summary>
internal sealed class OpStats
{
    private static readonly long HighestTicks = Stopwatch.Frequency * 120;

    public LongHistogram Latencies { get; } = new(HighestTicks, 3);

    public Dictionary<string, (long Count, string Sample)> Errors { get; } = new(StringComparer.Ordinal);

    public long ErrorCount { get; private set; }

    public long Successes => Latencies.TotalCount;

    public void Record(long ticks) => Latencies.RecordValue(Math.Clamp(ticks, 1, HighestTicks));

    public void Fail(OpError error)
    {
        ErrorCount++;
        Errors[error.Kind] = Errors.TryGetValue(error.Kind, out var seen) ? (seen.Count + 1, seen.Sample) : (1, error.Detail);
    }

    public void Add(OpStats other)
    {
        Latencies.Add(other.Latencies);
        ErrorCount += other.ErrorCount;
        foreach (var (kind, (count, sample)) in other.Errors)
        {
            Errors[kind] = Errors.TryGetValue(kind, out var seen) ? (seen.Count + count, seen.Sample) : (count, sample);
        }
    }

    /// <summary>The latency at <paramref name="percentile"/> (0–100) in milliseconds; null with no successes.</summary>
    public double? Milliseconds(double percentile) =>
        Successes == 0 ? null : Latencies.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency;
}
