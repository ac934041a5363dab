namespace Kbl.Replication;

/// <summary>
/// One write of a shard's replication log: sequence number (the record's new version: the leaf's clock), the
/// epoch of the primary that wrote it, the key, and the value (null: a delete).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.LogEntry")]
public sealed record LogEntry(
    [property: Id(0)] long Seq,
    [property: Id(1)] long Epoch,
    [property: Id(2)] byte[] Key,
    [property: Id(3)] byte[]? Value);
