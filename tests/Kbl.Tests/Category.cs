namespace Kbl.Tests;

/// <summary>
/// What a test needs, as its <c>Category</c> trait: <c>dotnet test --filter Category=Unit</c> runs the fast ones in
/// seconds. Every test class carries exactly one (<see cref="CategoryTests"/> checks it).
/// </summary>
public static class Category
{
    /// <summary>No server, no cluster: pure code, files, the kubectl and CDK tools.</summary>
    public const string Unit = "Unit";

    /// <summary>An in-process Orleans cluster (InProcessTestCluster).</summary>
    public const string Cluster = "Cluster";

    /// <summary>Real silo or Provisioner processes (and redis-server where they cluster through it).</summary>
    public const string Process = "Process";

    /// <summary>Chromium driven through Playwright against a real silo.</summary>
    public const string Browser = "Browser";

    /// <summary>A local AWS: moto_server or dynalite.</summary>
    public const string AwsLocal = "AwsLocal";

    public static readonly IReadOnlySet<string> All = new HashSet<string>([Unit, Cluster, Process, Browser, AwsLocal], StringComparer.Ordinal);
}
