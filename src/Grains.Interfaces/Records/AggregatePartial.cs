namespace Kbl.Records;

/// <summary>
/// What one subtree computed over its own records. Partials combine associatively, so a parent adds its
/// children's partials and only these few numbers travel, never the records. A leaf computes its partial in pages,
/// one turn each (so writes to it go on between them): <see cref="Resume"/> is the key its next page starts at,
/// null once it has covered its range; it counts itself in <see cref="Leaves"/> on its last page.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.AggregatePartial")]
public sealed record AggregatePartial(
    [property: Id(0)] long Records,
    [property: Id(1)] long Numeric,
    [property: Id(2)] double Sum,
    [property: Id(3)] double? Min,
    [property: Id(4)] double? Max,
    [property: Id(5)] long Skipped,
    [property: Id(6)] int Leaves,
    [property: Id(7)] KblStatus Status = KblStatus.Ok,
    [property: Id(8)] string? Message = null,
    [property: Id(9)] byte[]? Resume = null)
{
    public static AggregatePartial Empty { get; } = new(0, 0, 0, null, null, 0, 0);

    /// <summary>The sum of two partials (with no <see cref="Resume"/>: a sum is over whole pages).</summary>
    public AggregatePartial Combine(AggregatePartial other) => new(
        Records + other.Records,
        Numeric + other.Numeric,
        Sum + other.Sum,
        Min is null ? other.Min : other.Min is null ? Min : Math.Min(Min.Value, other.Min.Value),
        Max is null ? other.Max : other.Max is null ? Max : Math.Max(Max.Value, other.Max.Value),
        Skipped + other.Skipped,
        Leaves + other.Leaves,
        Status != KblStatus.Ok ? Status : other.Status,
        Message ?? other.Message);

    /// <summary>The answer to <paramref name="op"/>; null for min/max/avg over no numeric value.</summary>
    public double? Result(AggregateOp op) => op switch
    {
        AggregateOp.Count => Records,
        AggregateOp.Sum => Sum,
        AggregateOp.Min => Min,
        AggregateOp.Max => Max,
        AggregateOp.Avg => Numeric == 0 ? null : Sum / Numeric,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };
}
