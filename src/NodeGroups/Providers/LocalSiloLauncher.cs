namespace Kbl.NodeGroups.Providers;

/// <summary>
/// How the local provider starts a silo process: the host silo's own command and arguments (so every setting the
/// host was given also reaches its siblings), then <see cref="Overrides"/>, then each silo's own identity and ports.
/// Later command-line settings win in .NET configuration. <see cref="ClusterSilos"/> lists the silos now active in
/// the cluster (name and node group), so silos started by hand count towards their group.
/// </summary>
public sealed record LocalSiloLauncher(
    string FileName,
    IReadOnlyList<string> Arguments,
    IReadOnlyDictionary<string, string> Overrides,
    string HostSiloName,
    string DataRoot,
    TimeSpan StopTimeout,
    Func<IReadOnlyList<(string Name, string Group)>> ClusterSilos);
