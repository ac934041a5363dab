using Kbl.Records;

namespace Kbl.Replication;

/// <summary>
/// What one copy of a shard holds within the shard's range: how far its log is applied, its records and bytes
/// (keys plus values), and a SHA-256 of every record as stored (key, value and version) in key order — copies with
/// equal digests hold byte-identical records.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.CopyDigest")]
public sealed record CopyDigest(
    [property: Id(0)] long AppliedSeq,
    [property: Id(1)] long Records,
    [property: Id(2)] long Bytes,
    [property: Id(3)] string Sha256);

/// <summary>One copy of a leaf's shard: where it is, whether the configuration counts it in sync, and its digest (null when its silo did not answer).</summary>
[GenerateSerializer, Immutable, Alias("kbl.ShardCopy")]
public sealed record ShardCopy(
    [property: Id(0)] string Silo,
    [property: Id(1)] bool Primary,
    [property: Id(2)] bool InSync,
    [property: Id(3)] CopyDigest? Digest);

/// <summary>A leaf's copies (<see cref="KblStatus.Ok"/>), or why this KBL has none to show.</summary>
[GenerateSerializer, Immutable, Alias("kbl.KblCopies")]
public sealed record KblCopies(
    [property: Id(0)] KblStatus Status,
    [property: Id(1)] IReadOnlyList<ShardCopy> Copies,
    [property: Id(2)] string? Message = null);
