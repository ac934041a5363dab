namespace Kbl.LoadGen;

/// <summary>CPU time spent in the measured window by the load generator and (when known) the server.</summary>
internal sealed record CpuUse(TimeSpan Client, TimeSpan? Server)
{
    public static double Cores(TimeSpan cpu, double seconds) => cpu.TotalSeconds / seconds;

    public static double? MicrosecondsPerRequest(TimeSpan cpu, long requests) =>
        requests == 0 ? null : cpu.TotalMicroseconds / requests;

    public static string Format(double? value) => value is { } v ? v.ToString("F0", System.Globalization.CultureInfo.InvariantCulture) : "-";
}
