using System.Reflection;

namespace Kbl.Tests.Process;

/// <summary>A real Provisioner process (<c>dotnet Kbl.Provisioner.dll</c>) with the given settings; Kill is a crash.</summary>
public sealed class ProvisionerProcess(IReadOnlyDictionary<string, string> settings, IReadOnlyDictionary<string, string> environment) : IAsyncDisposable
{
    private DotnetProcess? _process;

    public static string Assembly { get; } = typeof(ProvisionerProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ProvisionerAssembly").Value!;

    public string Output => _process?.Output ?? "";

    /// <summary>Runs the Provisioner with <paramref name="arguments"/> to its exit (for configuration errors).</summary>
    public static async Task<(int ExitCode, string Stderr)> RunToExit(params string[] arguments)
    {
        var (exitCode, _, stderr) = await DotnetProcess.RunToExit(Assembly, arguments);
        return (exitCode, stderr);
    }

    public void Start() => _process = DotnetProcess.Start(
        Assembly,
        settings.Select(s => $"--{s.Key}={s.Value}"),
        new Dictionary<string, string>(environment) { ["Logging__LogLevel__Default"] = "Information" });

    public Task KillAsync() => _process?.KillAsync() ?? Task.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
        }
    }
}
