namespace Kbl.Records;

/// <summary>One record: key, value and version (monotonic per key, across splits and merges).</summary>
[GenerateSerializer, Immutable, Alias("kbl.StoredRecord")]
public sealed record StoredRecord([property: Id(0)] byte[] Key, [property: Id(1)] byte[] Value, [property: Id(2)] long Version);
