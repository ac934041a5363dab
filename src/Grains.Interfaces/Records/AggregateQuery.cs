namespace Kbl.Records;

[GenerateSerializer, Alias("kbl.AggregateOp")]
public enum AggregateOp
{
    Count = 0,
    Sum = 1,
    Min = 2,
    Max = 3,
    Avg = 4,
}

/// <summary>An aggregate over <c>[From, To)</c>; sum/min/max/avg read the numeric top-level JSON field <see cref="Field"/>.</summary>
[GenerateSerializer, Immutable, Alias("kbl.AggregateQuery")]
public sealed record AggregateQuery(
    [property: Id(0)] byte[] From,
    [property: Id(1)] byte[]? To,
    [property: Id(2)] AggregateOp Op,
    [property: Id(3)] string? Field);
