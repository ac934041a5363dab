using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups.Providers;

/// <summary>
/// The local provider: a node group is a set of silo processes on this machine, started with that group's
/// <c>Kbl:NodeGroup</c>. Silos it did not start (the host, silos started by hand) count as nodes of their groups;
/// it starts and stops only its own. Scale-up starts processes (each on free
/// loopback ports, with its own data directory under <c>{DataRoot}/silos/NAME</c>) and waits until they are ready;
/// scale-down sends SIGTERM, so the silo drains (its KBLs and records move to the rest of its group) before it
/// exits. Silo names are stable (<c>{host}-{group}-{n}</c>, lowest free n), so a silo started again under a name
/// finds its records. The processes it runs are listed in <c>{DataRoot}/local-silos.json</c>: silos left over from
/// a host that crashed are stopped and started again under their names, then brought down to the desired number
/// by draining, so no records are stranded.
/// </summary>
public sealed partial class LocalSiloProvider(LocalSiloLauncher launcher, LocalProviderOptions options, ILogger<LocalSiloProvider> logger)
    : INodeGroupProvider, IProcessBoundProvider, IAsyncDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90);
    private readonly List<LocalSilo> _silos = [];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(3) };
    private List<LocalSiloRecord>? _leftovers;

    public string Name => "local";

    private string StateFile => Path.Combine(launcher.DataRoot, "local-silos.json");

    public async Task<ObservedState> Reconcile(DesiredState desired, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _leftovers ??= await StopLeftovers();
            _silos.RemoveAll(s => s.Process.HasExited && Forget(s));
            var groups = desired.Groups.Select(g => g.Name).Union(_silos.Select(s => s.Group)).Union(_leftovers.Select(l => l.Group)).ToList();
            string? error = null;
            var others = launcher.ClusterSilos().Where(s => _silos.All(own => own.Name != s.Name)).ToList();
            foreach (var group in groups)
            {
                // Silos this provider did not start (the host, silos started by hand) count towards their group; it
                // starts and stops only its own.
                var want = Math.Max(0, (desired.Group(group)?.Desired ?? 0) - others.Count(s => s.Group == group));
                var revive = _leftovers.Where(l => l.Group == group).Select(l => l.Name).ToList();
                error ??= await StartUpTo(group, Math.Max(want, revive.Count), revive, cancellationToken);
                _leftovers.RemoveAll(l => l.Group == group);
                await StopDownTo(group, want);
            }

            await Save();
            var observed = new List<ObservedGroup>();
            var active = launcher.ClusterSilos();
            foreach (var spec in desired.Groups)
            {
                var ready = active.Count(s => s.Group == spec.Name);
                observed.Add(new ObservedGroup(spec.Name, "ACTIVE", spec.Desired, ready,
                    spec.Desired > options.MaxSilos + 1 ? [$"capped by Kbl:Provisioning:Local:MaxSilos={options.MaxSilos}"] : []));
            }

            return new ObservedState(desired.Generation, DateTimeOffset.UtcNow, Name, observed, error);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops every silo it started, each draining first (the host is going away, so its node groups go with it).</summary>
    public async Task StopAll()
    {
        await _gate.WaitAsync();
        try
        {
            // One at a time, so no silo drains into one that is itself stopping.
            foreach (var silo in _silos.OrderByDescending(s => s.Index).ToList())
            {
                await Stop(silo);
            }

            await Save();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAll();
        _http.Dispose();
        _gate.Dispose();
    }

    private async Task<string?> StartUpTo(string group, int count, List<string> names, CancellationToken cancellationToken)
    {
        var started = new List<LocalSilo>();
        while (_silos.Count(s => s.Group == group) < count)
        {
            if (_silos.Count >= options.MaxSilos)
            {
                return $"node group {group}: Kbl:Provisioning:Local:MaxSilos ({options.MaxSilos}) reached";
            }

            var name = names.FirstOrDefault(n => _silos.All(s => s.Name != n)) ?? NextName(group);
            var silo = Start(group, name);
            _silos.Add(silo);
            started.Add(silo);
        }

        await Save();
        foreach (var silo in started)
        {
            var deadline = DateTime.UtcNow + ReadyTimeout;
            while (!await IsReady(silo, cancellationToken))
            {
                if (silo.Process.HasExited || DateTime.UtcNow > deadline)
                {
                    _silos.Remove(silo);
                    return $"silo {silo.Name} of node group {group} did not become ready (exit code {(silo.Process.HasExited ? silo.Process.ExitCode : "none")}; log {silo.Log})";
                }

                await Task.Delay(250, cancellationToken);
            }

            logger.LogInformation("local silo {Silo} of node group {Group} is up (HTTP port {Port})", silo.Name, group, silo.HttpPort);
        }

        return null;
    }

    private async Task StopDownTo(string group, int count)
    {
        var extra = _silos.Where(s => s.Group == group).OrderByDescending(s => s.Index).Take(Math.Max(0, _silos.Count(s => s.Group == group) - count)).ToList();
        foreach (var silo in extra)
        {
            // One at a time: each drains into the silos that stay.
            await Stop(silo);
        }
    }

    private async Task Stop(LocalSilo silo)
    {
        logger.LogInformation("stopping local silo {Silo} of node group {Group} (it drains first)", silo.Name, silo.Group);
        if (!silo.Process.HasExited)
        {
            _ = SendSignal(silo.Process.Id, 15);
            using var timeout = new CancellationTokenSource(launcher.StopTimeout);
            try
            {
                await silo.Process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                logger.LogWarning("local silo {Silo} did not stop within {Timeout}; killing it", silo.Name, launcher.StopTimeout);
                silo.Process.Kill();
                await silo.Process.WaitForExitAsync();
            }
        }

        _silos.Remove(silo);
        Forget(silo);
    }

    private LocalSilo Start(string group, string name)
    {
        var ports = new[] { FreePort(), FreePort(), FreePort(), FreePort() };
        var data = Path.Combine(launcher.DataRoot, "silos", name);
        Directory.CreateDirectory(data);
        var settings = new Dictionary<string, string>(launcher.Overrides)
        {
            ["Kbl:SiloName"] = name,
            ["Kbl:NodeGroup"] = group,
            ["Kbl:DataPath"] = data,
            ["Kbl:Cluster:SiloPort"] = ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kbl:Cluster:GatewayPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["urls"] = $"http://127.0.0.1:{ports[2]}",
            ["Kbl:Gateway:GrpcPort"] = ports[3].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kbl:Provisioning:InProcess"] = "false",
        };
        var start = new ProcessStartInfo(launcher.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in launcher.Arguments.Concat(settings.Select(s => $"--{s.Key}={s.Value}")))
        {
            start.ArgumentList.Add(argument);
        }

        var log = Path.Combine(data, "silo.log");
        var writer = new StreamWriter(log, append: true) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {launcher.FileName}");
        void Write(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is not null)
            {
                lock (writer)
                {
                    writer.WriteLine(e.Data);
                }
            }
        }

        process.OutputDataReceived += Write;
        process.ErrorDataReceived += Write;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.Exited += (_, _) => writer.Dispose();
        process.EnableRaisingEvents = true;
        logger.LogInformation("started local silo {Silo} of node group {Group} (pid {Pid}, log {Log})", name, group, process.Id, log);
        return new LocalSilo(name, group, Index(name), ports[2], process, log);
    }

    private string NextName(string group)
    {
        var index = 1;
        while (_silos.Any(s => s.Name == $"{launcher.HostSiloName}-{group}-{index}"))
        {
            index++;
        }

        return $"{launcher.HostSiloName}-{group}-{index}";
    }

    private static int Index(string name) => int.TryParse(name[(name.LastIndexOf('-') + 1)..], out var i) ? i : 0;

    private async Task<bool> IsReady(LocalSilo silo, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{silo.HttpPort}/readyz"), cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Silos a crashed host left running cannot rejoin its new cluster: stop them, and remember their names to start again.</summary>
    private async Task<List<LocalSiloRecord>> StopLeftovers()
    {
        if (!File.Exists(StateFile))
        {
            return [];
        }

        var records = JsonSerializer.Deserialize<List<LocalSiloRecord>>(await File.ReadAllTextAsync(StateFile)) ?? [];
        foreach (var record in records)
        {
            try
            {
                using var process = Process.GetProcessById(record.Pid);
                if (File.ReadAllText($"/proc/{record.Pid}/cmdline").Contains($"--Kbl:SiloName={record.Name}\0", StringComparison.Ordinal))
                {
                    logger.LogWarning("stopping local silo {Silo} (pid {Pid}) left over from an earlier run; it starts again under its name", record.Name, record.Pid);
                    process.Kill();
                    await process.WaitForExitAsync();
                }
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
            {
                // gone already
            }
        }

        return records;
    }

    private bool Forget(LocalSilo silo)
    {
        silo.Process.Dispose();
        return true;
    }

    private async Task Save()
    {
        Directory.CreateDirectory(launcher.DataRoot);
        var records = _silos.Select(s => new LocalSiloRecord(s.Name, s.Group, s.Process.Id)).ToList();
        var temporary = StateFile + ".tmp";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(records));
        File.Move(temporary, StateFile, overwrite: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    private sealed record LocalSilo(string Name, string Group, int Index, int HttpPort, Process Process, string Log);

    private sealed record LocalSiloRecord(string Name, string Group, int Pid);
}
