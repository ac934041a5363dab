namespace Kbl.Provisioning.Providers;

/// <summary>
/// How the local provider starts a silo process: the host silo's own command and arguments (so every setting the
/// host was given also reaches its siblings), then <see cref="Overrides"/>, then each silo's own identity and ports.
/// Later command-line settings win in .NET configuration.
/// </summary>
public sealed record LocalSiloLauncher(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Overrides,
    string HostSiloName,
    string HostNodeGroup,
    string DataRoot,
    TimeSpan StopTimeout);
