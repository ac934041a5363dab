using Kbl.Records;

namespace Kbl.Silo.Routing;

/// <summary>A page of a range scan across leaves; <see cref="More"/>: the range may hold records after it.</summary>
public sealed record RecordPage(IReadOnlyList<StoredRecord> Records, bool More);
