namespace Kbl.Colonies;

[GenerateSerializer, Alias("kbl.RedundancyMode")]
public enum RedundancyMode
{
    /// <summary>One copy, on the KBL's home silo.</summary>
    None = 0,

    /// <summary>The primary copy on the home silo and replicas on other silos of the node group, each a whole copy.</summary>
    Mirror = 1,
}

/// <summary>
/// How many copies of each leaf's records a colony keeps. With <see cref="RedundancyMode.Mirror"/>, a write is
/// acknowledged once it is durable on the primary and every replica in sync; <see cref="MinCopies"/> is the fewest
/// copies (the primary included) a write must reach, below which the leaf refuses writes and keeps serving reads.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Redundancy")]
public sealed record Redundancy(
    [property: Id(0)] RedundancyMode Mode,
    [property: Id(1)] int Copies,
    [property: Id(2)] int MinCopies)
{
    public const int MaxCopies = 5;

    public static Redundancy None { get; } = new(RedundancyMode.None, 1, 1);

    public bool Mirrored => Mode == RedundancyMode.Mirror;
}
