using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Kbl.Tests.Process;

/// <summary>
/// <c>dotnet ASSEMBLY ARGUMENTS</c> as a child process with its output captured: what the silo and Provisioner
/// process helpers share. Stop sends SIGTERM (a graceful shutdown); Kill sends SIGKILL (a crash).
/// </summary>
public sealed partial class DotnetProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly System.Diagnostics.Process _process;

    private DotnetProcess(ProcessStartInfo start)
    {
        _process = System.Diagnostics.Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Sends the process a signal by name (STOP, CONT, ...), as <c>kill -s</c> does.</summary>
    public async Task Signal(string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-s", signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        await kill.WaitForExitAsync();
    }

    public int ExitCode => _process.ExitCode;

    public static DotnetProcess Start(string assembly, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment, string? workingDirectory = null)
    {
        var start = Describe(assembly, arguments);
        start.WorkingDirectory = workingDirectory ?? "";
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        return new DotnetProcess(start);
    }

    /// <summary>Runs <c>dotnet <paramref name="assembly"/></c> with <paramref name="arguments"/> to its exit, within a minute.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExit(string assembly, IEnumerable<string> arguments)
    {
        using var process = System.Diagnostics.Process.Start(Describe(assembly, arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>SIGTERM, then waits (up to a minute) for the process to exit by itself.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _ = SendSignal(_process.Id, 15);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await _process.WaitForExitAsync(timeout.Token);
        }
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private static ProcessStartInfo Describe(string assembly, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);
}
