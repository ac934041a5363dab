using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Kbl.Tests.Process;

/// <summary>
/// A real silo process (<c>dotnet Kbl.Silo.dll</c>) on free loopback ports, with its own data directory.
/// Stop sends SIGTERM (a graceful shutdown); Kill sends SIGKILL (a crash).
/// </summary>
public sealed partial class SiloProcess : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private System.Diagnostics.Process? _process;

    public SiloProcess(string dataDirectory, string siloName = "test-silo", IReadOnlyDictionary<string, string>? settings = null)
    {
        DataDirectory = dataDirectory;
        SiloName = siloName;
        Settings = settings ?? new Dictionary<string, string>();
    }

    public static string SiloAssembly { get; } = typeof(SiloProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SiloAssembly").Value!;

    public string DataDirectory { get; }

    public string SiloName { get; }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public int HttpPort { get; private set; }

    public int GrpcPort { get; private set; }

    public int SiloPort { get; private set; }

    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort}");

    public Uri GrpcAddress => new($"http://127.0.0.1:{GrpcPort}");

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

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts the silo on fresh ports and waits until <c>/readyz</c> answers 200.</summary>
    /// <param name="primarySiloPort">The primary silo's port; 0: this silo is the primary.</param>
    /// <param name="primaryIsItself">Name this silo's own port as the primary's (the other way to make it the primary).</param>
    public async Task StartAsync(int primarySiloPort = 0, bool primaryIsItself = false)
    {
        (HttpPort, GrpcPort, SiloPort) = (FreePort(), FreePort(), FreePort());
        primarySiloPort = primaryIsItself ? SiloPort : primarySiloPort;
        var arguments = new Dictionary<string, string>
        {
            ["urls"] = HttpAddress.ToString().TrimEnd('/'),
            ["Kbl:Gateway:GrpcPort"] = GrpcPort.ToString(),
            ["Kbl:Cluster:SiloPort"] = SiloPort.ToString(),
            ["Kbl:Cluster:GatewayPort"] = FreePort().ToString(),
            ["Kbl:Cluster:PrimarySiloPort"] = primarySiloPort.ToString(),
            ["Kbl:DataPath"] = DataDirectory,
            ["Kbl:SiloName"] = SiloName,
            ["Kbl:Storage:Sqlite:Path"] = Path.Combine(DataDirectory, "meta.db"),
        };
        foreach (var (key, value) in Settings)
        {
            arguments[key] = value;
        }

        _process = Launch(arguments.Select(a => $"--{a.Key}={a.Value}"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the silo exited with {_process.ExitCode} before it was ready:\n{Output}");
            }

            try
            {
                if ((await http.GetAsync(new Uri(HttpAddress, "/readyz"))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the silo was not ready within a minute:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Runs the silo with <paramref name="arguments"/> to its exit (for configuration errors).</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunToExit(params string[] arguments) => RunToExit(SiloAssembly, arguments);

    /// <summary>Runs <c>dotnet <paramref name="assembly"/></c> with <paramref name="arguments"/> to its exit, within a minute.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExit(string assembly, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>SIGTERM, then waits for the process to exit by itself.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false })
        {
            _ = SendSignal(_process.Id, 15);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await _process.WaitForExitAsync(timeout.Token);
        }
    }

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
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

    private System.Diagnostics.Process Launch(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = DataDirectory,
        };
        start.ArgumentList.Add(SiloAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__Kbl"] = "Information";
        Directory.CreateDirectory(DataDirectory);
        var process = System.Diagnostics.Process.Start(start)!;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
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
