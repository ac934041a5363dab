namespace Kbl.LoadGen;

/// <summary>One line of the results table: operations are records (a batch of N counts N), latencies are per request.</summary>
internal sealed record ResultRow(
    string Protocol,
    string Op,
    int Concurrency,
    long Ops,
    double OpsPerSecond,
    double? P50Ms,
    double? P99Ms,
    double? P999Ms,
    double? MaxMs,
    long Errors)
{
    public static ResultRow From(LoadOptions options, string op, OpStats stats, double seconds) => new(
        options.Protocol.ToString().ToLowerInvariant(),
        op,
        options.Concurrency,
        stats.Successes * options.Batch,
        stats.Successes * options.Batch / seconds,
        stats.Milliseconds(50),
        stats.Milliseconds(99),
        stats.Milliseconds(99.9),
        stats.Milliseconds(100),
        stats.ErrorCount);
}
