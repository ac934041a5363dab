namespace Kbl.Colonies;

/// <summary>
/// The policy every KBL of a colony runs. Children inherit their parent's genome.
/// The defaults suit a laptop: a leaf divides at 50,000 keys, 64 MiB or 2,000 ops/s and its children merge
/// back once together they stay under 5,000 keys, 8 MiB and 50 ops/s for 30 seconds.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Genome")]
public sealed record Genome
{
    [Id(0)] public int FanOut { get; init; } = 4;

    [Id(1)] public long SplitKeys { get; init; } = 50_000;

    [Id(2)] public long SplitBytes { get; init; } = 64L * 1024 * 1024;

    [Id(3)] public double SplitOpsPerSecond { get; init; } = 2_000;

    [Id(4)] public long MergeKeys { get; init; } = 5_000;

    [Id(5)] public long MergeBytes { get; init; } = 8L * 1024 * 1024;

    [Id(6)] public double MergeOpsPerSecond { get; init; } = 50;

    /// <summary>How long a subtree must stay under the merge thresholds before it merges; also the least age of a split before its children may merge.</summary>
    [Id(7)] public TimeSpan Hysteresis { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The node group whose silos host this KBL.</summary>
    [Id(8)] public string NodeGroup { get; init; } = "default";

    /// <summary>How many copies of each leaf's records the colony keeps (one, unless the genome says otherwise).</summary>
    [Id(9)] public Redundancy Redundancy { get; init; } = Redundancy.None;

    /// <summary>
    /// How long a leaf goes without a request before it hibernates: its records leave every silo disk for the cold
    /// tier and come back on the next request. Zero (the default) keeps every leaf on its disks.
    /// </summary>
    [Id(10)] public TimeSpan HibernateAfter { get; init; } = TimeSpan.Zero;

    /// <summary>The defaults a KBL's stored genome falls back to: one copy, as for colonies made before redundancy.</summary>
    public static Genome Default { get; } = new();

    /// <summary>What a colony created through the API starts from: the defaults, with two copies of every record (one may be lost).</summary>
    public static Genome NewColony { get; } = Default with { Redundancy = new Redundancy(RedundancyMode.Mirror, 2, 1) };
}
