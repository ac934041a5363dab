using System.Diagnostics;
using System.Globalization;

namespace Kbl.LoadGen;

/// <summary>
/// CPU time used by this process and, when given its id, by the server process (Linux <c>/proc/PID/stat</c>,
/// user + system, in clock ticks of 1/100 s), so a run can say what each side spent per request.
/// </summary>
internal sealed class CpuMeter(int? serverPid)
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux

    public (TimeSpan Client, TimeSpan? Server) Read()
    {
        using var self = Process.GetCurrentProcess();
        return (self.TotalProcessorTime, serverPid is { } pid ? Server(pid) : null);
    }

    /// <summary>Checks that the server's CPU time can be read; the message says why not.</summary>
    public static string? Check(int pid) =>
        !OperatingSystem.IsLinux() ? "--server-pid needs Linux (/proc)"
        : Server(pid) is null ? $"--server-pid {pid}: no readable /proc/{pid}/stat"
        : null;

    private static TimeSpan? Server(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
