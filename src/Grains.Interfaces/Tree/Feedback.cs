namespace Kbl.Tree;

/// <summary>
/// What a KBL measures about itself, or for an interior KBL the roll-up of its subtree:
/// rates are exponentially weighted moving averages per second; keys and bytes are exact for a leaf (a hibernated
/// leaf's are its snapshot's); <see cref="Hibernated"/> counts the hibernated leaves among <see cref="Leaves"/>,
/// <see cref="HibernatedBytes"/> their bytes among <see cref="Bytes"/>; <see cref="Groups"/> splits the awake leaves'
/// load by node group (a subtree moved to another group counts there).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Feedback")]
public sealed record Feedback(
    [property: Id(0)] double ReadsPerSecond,
    [property: Id(1)] double WritesPerSecond,
    [property: Id(2)] long Keys,
    [property: Id(3)] long Bytes,
    [property: Id(4)] DateTimeOffset? LastAccess,
    [property: Id(5)] int Leaves,
    [property: Id(6)] int Depth,
    [property: Id(7)] int Hibernated = 0,
    [property: Id(8)] long HibernatedBytes = 0,
    [property: Id(9)] IReadOnlyList<Provisioning.GroupShare>? Groups = null)
{
    public static Feedback Empty { get; } = new(0, 0, 0, 0, null, 0, 0);

    /// <summary>Whether every leaf of the subtree is hibernated (none is active).</summary>
    public bool Asleep => Leaves > 0 && Hibernated == Leaves;

    /// <summary>The leaves that are not hibernated: what occupies silos (with <see cref="ActiveBytes"/>).</summary>
    public int ActiveLeaves => Leaves - Hibernated;

    /// <summary>The bytes of the leaves that are not hibernated (a hibernated leaf's are in the cold tier).</summary>
    public long ActiveBytes => Bytes - HibernatedBytes;

    public double OpsPerSecond => ReadsPerSecond + WritesPerSecond;

    public Feedback Add(Feedback other) => new(
        ReadsPerSecond + other.ReadsPerSecond,
        WritesPerSecond + other.WritesPerSecond,
        Keys + other.Keys,
        Bytes + other.Bytes,
        LastAccess is null ? other.LastAccess : other.LastAccess is null || LastAccess > other.LastAccess ? LastAccess : other.LastAccess,
        Leaves + other.Leaves,
        Math.Max(Depth, other.Depth),
        Hibernated + other.Hibernated,
        HibernatedBytes + other.HibernatedBytes,
        Provisioning.GroupShare.Merge(Groups, other.Groups));
}
