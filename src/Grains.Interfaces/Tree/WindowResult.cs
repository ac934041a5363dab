namespace Kbl.Tree;

/// <summary>
/// The outcome of hibernating or waking a subtree on demand: how many leaves changed state, how many were in that
/// state already, and why the rest could not change now (the first error met; a later try does the rest).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.WindowResult")]
public sealed record WindowResult(
    [property: Id(0)] bool Found,
    [property: Id(1)] int Changed,
    [property: Id(2)] int Already,
    [property: Id(3)] string? Error = null)
{
    public static WindowResult NotFound { get; } = new(false, 0, 0);

    /// <summary>A subtree's outcome from its children's (it is found, being there to ask them).</summary>
    public static WindowResult Sum(IEnumerable<WindowResult> children) =>
        children.Aggregate(new WindowResult(true, 0, 0), (sum, r) => new(true, sum.Changed + r.Changed, sum.Already + r.Already, sum.Error ?? r.Error));
}

/// <summary>A hibernated KBL as the tree shows it: since when, and what its snapshot in the cold tier holds.</summary>
[GenerateSerializer, Immutable, Alias("kbl.HibernationView")]
public sealed record HibernationView(
    [property: Id(0)] DateTimeOffset Since,
    [property: Id(1)] long Records,
    [property: Id(2)] long Bytes);
