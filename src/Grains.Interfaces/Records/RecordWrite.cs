namespace Kbl.Records;

/// <summary>One write of a batch: a put (<see cref="Value"/> set) or a delete (null), under its own condition.</summary>
[GenerateSerializer, Immutable, Alias("kbl.RecordWrite")]
public sealed record RecordWrite([property: Id(0)] byte[] Key, [property: Id(1)] byte[]? Value, [property: Id(2)] Precondition Condition);
