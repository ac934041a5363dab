using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Kbl.Tests.Process;

/// <summary>A real Provisioner process (<c>dotnet Kbl.Provisioner.dll</c>) with the given settings; Kill is a crash.</summary>
public sealed class ProvisionerProcess(IReadOnlyDictionary<string, string> settings, IReadOnlyDictionary<string, string> environment) : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private System.Diagnostics.Process? _process;

    public static string Assembly { get; } = typeof(ProvisionerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ProvisionerAssembly").Value!;

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

    /// <summary>Runs the Provisioner with <paramref name="arguments"/> to its exit (for configuration errors).</summary>
    public static async Task<(int ExitCode, string Stderr)> RunToExit(params string[] arguments)
    {
        var (exitCode, _, stderr) = await SiloProcess.RunToExit(Assembly, arguments);
        return (exitCode, stderr);
    }

    public void Start()
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Assembly);
        foreach (var (key, value) in settings)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        start.Environment["Logging__LogLevel__Default"] = "Information";
        _process = System.Diagnostics.Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
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
}
