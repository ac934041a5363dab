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
public sealed class SiloProcess : IAsyncDisposable
{
    private DotnetProcess? _process;

    public SiloProcess(string dataDirectory, string siloName = "test-silo", IReadOnlyDictionary<string, string>? settings = null)
    {
        DataDirectory = dataDirectory;
        SiloName = siloName;
        Settings = settings ?? new Dictionary<string, string>();
    }

    private static readonly HashSet<int> GivenPorts = [];

    public static string SiloAssembly { get; } = typeof(SiloProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SiloAssembly").Value!;

    public string DataDirectory { get; }

    public string SiloName { get; }

    public IReadOnlyDictionary<string, string> Settings { get; }

    public int HttpPort { get; private set; }

    public int GrpcPort { get; private set; }

    public int SiloPort { get; private set; }

    public Uri HttpAddress => new($"http://127.0.0.1:{HttpPort}");

    public Uri GrpcAddress => new($"http://127.0.0.1:{GrpcPort}");

    public string Output => _process?.Output ?? "";

    /// <summary>Whether the process has ended (or never started).</summary>
    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>
    /// A port free now and never handed out before in this test run, below Linux's ephemeral range (32768 up): a port
    /// the OS picked would be free only until some process's outgoing connection takes it as its local port, which
    /// happens between here and the silo's bind when many clients connect (a test that kills a silo does that).
    /// </summary>
    public static int FreePort()
    {
        lock (GivenPorts)
        {
            while (true)
            {
                var port = Random.Shared.Next(20_000, 32_000);
                if (!GivenPorts.Add(port))
                {
                    continue;
                }

                try
                {
                    using var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    return port;
                }
                catch (SocketException)
                {
                    // taken: try another
                }
            }
        }
    }

    /// <summary>Starts the silo on fresh ports and waits until <c>/readyz</c> answers 200.</summary>
    /// <param name="primarySiloPort">The primary silo's port; 0: this silo is the primary.</param>
    /// <param name="primaryIsItself">Name this silo's own port as the primary's (the other way to make it the primary).</param>
    public async Task StartAsync(int primarySiloPort = 0, bool primaryIsItself = false)
    {
        Begin(primarySiloPort, primaryIsItself);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"the silo exited with {_process.ExitCode} before it was ready:\n{Output}");
            }

            if (await IsReadyAsync(http))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the silo was not ready within a minute:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Whether the silo answers <c>/readyz</c> with 200 now.</summary>
    public async Task<bool> IsReadyAsync(HttpClient? client = null)
    {
        using var own = client is null ? new HttpClient { Timeout = TimeSpan.FromSeconds(5) } : null;
        try
        {
            return (await (client ?? own!).GetAsync(new Uri(HttpAddress, "/readyz"))).IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
        catch (TaskCanceledException)
        {
            return false;
        }
    }

    /// <summary>Starts the silo on fresh ports without waiting for it to be ready (for a silo that is meant not to get there).</summary>
    public void Begin(int primarySiloPort = 0, bool primaryIsItself = false)
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
    }

    /// <summary>Runs the silo with <paramref name="arguments"/> to its exit (for configuration errors).</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunToExit(params string[] arguments) => RunToExit(SiloAssembly, arguments);

    /// <summary>Runs <c>dotnet <paramref name="assembly"/></c> with <paramref name="arguments"/> to its exit, within a minute.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunToExit(string assembly, IEnumerable<string> arguments) =>
        DotnetProcess.RunToExit(assembly, arguments);

    /// <summary>SIGTERM, then waits for the process to exit by itself.</summary>
    public Task StopAsync() => _process?.StopAsync() ?? Task.CompletedTask;

    /// <summary>SIGSTOP (<paramref name="paused"/>) or SIGCONT: a process that stops answering without dying, then goes on as if nothing happened.</summary>
    public Task Pause(bool paused) => _process is { HasExited: false } process ? process.Signal(paused ? "STOP" : "CONT") : Task.CompletedTask;

    /// <summary>SIGKILL: the process dies at once, as in a crash.</summary>
    public Task KillAsync() => _process?.KillAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }

    private DotnetProcess Launch(IEnumerable<string> arguments)
    {
        Directory.CreateDirectory(DataDirectory);
        var environment = new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning", ["Logging__LogLevel__Kbl"] = "Information" };
        return DotnetProcess.Start(SiloAssembly, arguments, environment, DataDirectory);
    }
}
