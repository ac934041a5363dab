using System.Globalization;

namespace Kbl.Persistence.DynamoDb;

/// <summary>A state's chunk items: <c>chunk/{writeId}/{index}</c>, written once, never changed.</summary>
internal sealed record ChunkSet(string WriteId, int Count)
{
    public string ItemKey(int index) => string.Create(CultureInfo.InvariantCulture, $"chunk/{WriteId}/{index:D6}");

    public bool TryParseIndex(string itemKey, out int index)
    {
        var prefix = $"chunk/{WriteId}/";
        index = -1;
        return itemKey.StartsWith(prefix, StringComparison.Ordinal)
            && int.TryParse(itemKey.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && index < Count;
    }
}
