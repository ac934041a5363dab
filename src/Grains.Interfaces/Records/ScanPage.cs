namespace Kbl.Records;

/// <summary>
/// Records of one leaf in key order. <see cref="RangeEnd"/> is the leaf's upper bound: when the page is not
/// full and the scan goes past it, the next leaf starts there (null: the leaf reaches +infinity).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ScanPage")]
public sealed record ScanPage(
    [property: Id(0)] KblStatus Status,
    [property: Id(1)] IReadOnlyList<StoredRecord> Records,
    [property: Id(2)] byte[]? RangeEnd,
    [property: Id(3)] Moved? Moved,
    [property: Id(4)] string? Message = null) : IKblReply;
