namespace Kbl.Records;

/// <summary>
/// A conditional write: <c>If-Match: "version"</c> (or <c>If-Match: *</c>, the record must exist) and/or
/// <c>If-None-Match: *</c> (the key must have no record).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Precondition")]
public sealed record Precondition([property: Id(0)] long? IfMatch, [property: Id(1)] bool IfNoneMatch, [property: Id(2)] bool IfExists = false)
{
    public static Precondition None { get; } = new(null, false);

    public bool Holds(long? currentVersion) =>
        (IfMatch is null || currentVersion == IfMatch) && (!IfNoneMatch || currentVersion is null) && (!IfExists || currentVersion is not null);
}
