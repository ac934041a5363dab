using System.Globalization;
using Amazon.DynamoDBv2.Model;

namespace Kbl.Persistence.DynamoDb;

/// <summary>A state item as read back: its version, whether it is a tombstone, where its payload is.</summary>
internal sealed record StateItemHeader(long Version, bool Cleared, ChunkSet? Chunks, long Size, string? WriteId, byte[]? Payload)
{
    public string? Etag => Cleared ? null : FormatEtag(Version, Chunks);

    public static StateItemHeader? From(Dictionary<string, AttributeValue>? item)
    {
        if (item is null || item.Count == 0 || !item.TryGetValue(DynamoDbTable.VersionAttribute, out var version))
        {
            return null;
        }

        var writeId = item.TryGetValue(DynamoDbTable.WriteIdAttribute, out var w) ? w.S : null;
        var cleared = item.TryGetValue(DynamoDbTable.ClearedAttribute, out var c) && c.BOOL == true;
        ChunkSet? chunks = null;
        if (!cleared && item.TryGetValue(DynamoDbTable.ChunksAttribute, out var n) && writeId is not null)
        {
            chunks = new ChunkSet(writeId, int.Parse(n.N, NumberStyles.None, CultureInfo.InvariantCulture));
        }

        return new StateItemHeader(
            long.Parse(version.N, NumberStyles.None, CultureInfo.InvariantCulture),
            cleared,
            chunks,
            item.TryGetValue(DynamoDbTable.SizeAttribute, out var s) ? long.Parse(s.N, NumberStyles.None, CultureInfo.InvariantCulture) : 0,
            writeId,
            item.TryGetValue(DynamoDbTable.PayloadAttribute, out var p) && p.B is not null ? DynamoDbTable.Bytes(p.B) : null);
    }

    /// <summary><c>{version}</c>, or <c>{version}.{chunks}.{writeId}</c> for a chunked state.</summary>
    public static string FormatEtag(long version, ChunkSet? chunks) => chunks is null
        ? version.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{version}.{chunks.Count}.{chunks.WriteId}");

    public static bool TryParseEtag(string etag, out long version, out ChunkSet? chunks)
    {
        chunks = null;
        var parts = etag.Split('.');
        if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out version) || version <= 0)
        {
            return false;
        }

        if (parts.Length == 1)
        {
            return true;
        }

        if (parts.Length == 3
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            && count > 0
            && parts[2].Length == 32
            && parts[2].All(char.IsAsciiHexDigitLower))
        {
            chunks = new ChunkSet(parts[2], count);
            return true;
        }

        return false;
    }
}
