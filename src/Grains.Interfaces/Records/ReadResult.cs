namespace Kbl.Records;

[GenerateSerializer, Immutable, Alias("kbl.ReadResult")]
public sealed record ReadResult(
    [property: Id(0)] KblStatus Status,
    [property: Id(1)] byte[]? Value,
    [property: Id(2)] long Version,
    [property: Id(3)] Moved? Moved,
    [property: Id(4)] string? Message = null) : IKblReply;
