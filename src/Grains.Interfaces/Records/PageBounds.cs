namespace Kbl.Records;

/// <summary>
/// How much one page of records may carry, in records and in bytes (keys plus values): every page that travels
/// between silos or to a client is bounded by both, so a range of large values still moves in messages well under
/// Orleans' limit (<c>MessagingOptions.MaxMessageBodySize</c>, 100 MB by default). A page always takes its first
/// record, however large (a value is at most 64 MiB), so it always makes progress — unless <see cref="Started"/>
/// says the page already holds records, from a leaf before this one.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.PageBounds")]
public sealed record PageBounds([property: Id(0)] int Records, [property: Id(1)] long Bytes, [property: Id(2)] bool Started = false)
{
    /// <summary>The bytes a page carries between silos at most (4 MiB): a 25th of Orleans' default message limit.</summary>
    public const long TransferBytes = 4L * 1024 * 1024;

    /// <summary>What a shard's records travel in between silos (divisions, merges, moves, drains): 512 records or 4 MiB.</summary>
    public static PageBounds Transfer { get; } = new(512, TransferBytes);

    /// <summary>What the counted size of a record is: its key and value bytes.</summary>
    public static long SizeOf(StoredRecord record) => record.Key.Length + record.Value.Length;

    /// <summary>
    /// The first page of <paramref name="source"/> within these bounds, and whether <paramref name="source"/> had
    /// more (read one record ahead, so a page that ends exactly at the end of its source says so).
    /// </summary>
    public (List<StoredRecord> Records, bool Truncated) Take(IEnumerable<StoredRecord> source, CancellationToken cancellationToken = default)
    {
        var page = new List<StoredRecord>();
        long bytes = 0;
        foreach (var record in source)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var size = SizeOf(record);
            if (page.Count >= Records || (bytes + size > Bytes && (page.Count > 0 || Started)))
            {
                return (page, true);
            }

            page.Add(record);
            bytes += size;
        }

        return (page, false);
    }

    /// <summary>All of <paramref name="source"/> in consecutive pages within these bounds (each of at least one record).</summary>
    public IEnumerable<IReadOnlyList<StoredRecord>> Pages(IEnumerable<StoredRecord> source)
    {
        var page = new List<StoredRecord>();
        long bytes = 0;
        foreach (var record in source)
        {
            var size = SizeOf(record);
            if (page.Count > 0 && (page.Count >= Records || bytes + size > Bytes))
            {
                yield return page;
                (page, bytes) = ([], 0);
            }

            page.Add(record);
            bytes += size;
        }

        if (page.Count > 0)
        {
            yield return page;
        }
    }
}
