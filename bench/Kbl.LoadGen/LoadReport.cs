using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Kbl.LoadGen;

/// <summary>What a run measured: a row per kind of request, and every error seen, including those outside the measured window.</summary>
internal sealed record LoadReport(
    LoadOptions Options,
    string Address,
    double MeasuredSeconds,
    IReadOnlyList<ResultRow> Rows,
    OpStats Measured,
    OpStats Outside)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The results table, then one line per kind of error (with a sample message).</summary>
    public string Table()
    {
        var o = Options;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Kbl load on {Address}: colony '{o.Colony}', {o.Keys} keys, {o.ValueSize}-byte values, {o.Concurrency} in flight, " +
            $"{Seconds(MeasuredSeconds)} s measured after {Seconds(o.WarmupSeconds)} s warm-up{(o.Op == OpKind.Mixed ? $", {o.ReadRatio:P0} gets" : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"protocol",-8} {"op",-9} {"concurrency",11} {"ops/s",10} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"errors",7}");
        foreach (var r in Rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Protocol,-8} {r.Op,-9} {r.Concurrency,11} {r.OpsPerSecond,10:F0} {Ms(r.P50Ms),8} {Ms(r.P99Ms),8} {Ms(r.P999Ms),8} {r.Errors,7}");
        }

        foreach (var (kind, (count, sample)) in Measured.Errors.OrderByDescending(e => e.Value.Count))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"errors: {count} x {kind}: {sample}");
        }

        foreach (var (kind, (count, sample)) in Outside.Errors.OrderByDescending(e => e.Value.Count))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"errors outside the measured window (warm-up or cut off at the end): {count} x {kind}: {sample}");
        }

        return text.ToString();
    }

    /// <summary>One JSON object on one line: the first row's figures, every row, and every error.</summary>
    public string JsonLine()
    {
        var main = Rows[0];
        return JsonSerializer.Serialize(
            new
            {
                main.Protocol,
                main.Op,
                main.Concurrency,
                Options.Keys,
                Options.ValueSize,
                DurationSeconds = MeasuredSeconds,
                Options.WarmupSeconds,
                main.Ops,
                main.OpsPerSecond,
                main.P50Ms,
                main.P99Ms,
                main.P999Ms,
                main.Errors,
                ErrorsOutsideWindow = Outside.ErrorCount,
                ErrorKinds = Measured.Errors.Concat(Outside.Errors)
                    .GroupBy(e => e.Key)
                    .ToDictionary(g => g.Key, g => new { Count = g.Sum(e => e.Value.Count), g.First().Value.Sample }),
                Rows,
            },
            JsonOptions);
    }

    private static string Ms(double? ms) => ms is { } v ? v.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Seconds(double s) => s.ToString("0.###", CultureInfo.InvariantCulture);
}
