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

/// <summary>
/// One child of a merge as a silo's replica copy of it must be for the merged KBL to take it over: the child's id,
/// range, and final position (the seq its copy applied last, and that entry's epoch).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.FusedChild")]
public sealed record FusedChild(
    [property: Id(0)] string KblId,
    [property: Id(1)] Keys.KeyRange Range,
    [property: Id(2)] long Applied,
    [property: Id(3)] long LastEpoch);
