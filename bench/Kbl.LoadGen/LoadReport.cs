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
    OpStats Outside,
    CpuUse Cpu,
    double? PreloadSeconds)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The results table, then one line per kind of error (with a sample message).</summary>
    public string Table()
    {
        var o = Options;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Kbl load on {Address}: colony '{o.Colony}', {o.Keys} keys, {o.ValueSize}-byte values, {o.Concurrency} in flight, " +
            $"{Seconds(MeasuredSeconds)} s measured after {Seconds(o.WarmupSeconds)} s warm-up{(o.Op == OpKind.Mixed ? $", {o.ReadRatio * 100:0.#}% gets" : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"{"protocol",-8} {"op",-9} {"concurrency",11} {"ops/s",10} {"p50 ms",8} {"p99 ms",8} {"p999 ms",8} {"max ms",8} {"errors",7}");
        foreach (var r in Rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"{r.Protocol,-8} {r.Op,-9} {r.Concurrency,11} {r.OpsPerSecond,10:F0} {Ms(r.P50Ms),8} {Ms(r.P99Ms),8} {Ms(r.P999Ms),8} {Ms(r.MaxMs),8} {r.Errors,7}");
        }

        var requests = Measured.Successes + Measured.ErrorCount;
        text.Append(CultureInfo.InvariantCulture, $"CPU in the measured window: load generator {CpuUse.Cores(Cpu.Client, MeasuredSeconds):F2} cores ({CpuUse.Format(CpuUse.MicrosecondsPerRequest(Cpu.Client, requests))} us/request)");
        text.AppendLine(Cpu.Server is { } server
            ? string.Create(CultureInfo.InvariantCulture, $", server {CpuUse.Cores(server, MeasuredSeconds):F2} cores ({CpuUse.Format(CpuUse.MicrosecondsPerRequest(server, requests))} us/request)")
            : "");
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
        var requests = Measured.Successes + Measured.ErrorCount;
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
                Options.Batch,
                PreloadSeconds,
                main.Ops,
                main.OpsPerSecond,
                main.P50Ms,
                main.P99Ms,
                main.P999Ms,
                main.MaxMs,
                main.Errors,
                ErrorsOutsideWindow = Outside.ErrorCount,
                ClientCpuCores = CpuUse.Cores(Cpu.Client, MeasuredSeconds),
                ClientCpuUsPerRequest = CpuUse.MicrosecondsPerRequest(Cpu.Client, requests),
                ServerCpuCores = Cpu.Server is { } server ? CpuUse.Cores(server, MeasuredSeconds) : (double?)null,
                ServerCpuUsPerRequest = Cpu.Server is { } s ? CpuUse.MicrosecondsPerRequest(s, requests) : null,
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
