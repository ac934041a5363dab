namespace Kbl.Records;

/// <summary>
/// The outcome of a put or delete. <see cref="Version"/> is the new version on success, the current one
/// (0 when absent) on <see cref="KblStatus.PreconditionFailed"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.WriteResult")]
public sealed record WriteResult(
    [property: Id(0)] KblStatus Status,
    [property: Id(1)] long Version,
    [property: Id(2)] Moved? Moved,
    [property: Id(3)] string? Message = null) : IKblReply;
