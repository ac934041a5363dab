namespace Kbl.Records;

/// <summary>
/// Records of one leaf in key order, within the <see cref="PageBounds"/> asked for. <see cref="Truncated"/>: the leaf
/// has more records in the range than the page carried (the scan continues after the last one). Otherwise
/// <see cref="RangeEnd"/> is the leaf's upper bound: a scan that goes past it continues with the next leaf there
/// (null: the leaf reaches +infinity).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ScanPage")]
public sealed record ScanPage(
    [property: Id(0)] KblStatus Status,
    [property: Id(1)] IReadOnlyList<StoredRecord> Records,
    [property: Id(2)] byte[]? RangeEnd,
    [property: Id(3)] Moved? Moved,
    [property: Id(4)] string? Message = null,
    [property: Id(5)] bool Truncated = false) : IKblReply;
