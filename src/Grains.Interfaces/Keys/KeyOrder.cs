using System.Text;

namespace Kbl.Keys;

/// <summary>Ordinal byte order of UTF-8 keys, the one order every range and scan in Kbl uses.</summary>
public static class KeyOrder
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static int Compare(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) => a.SequenceCompareTo(b);

    public static byte[] Encode(string key) => StrictUtf8.GetBytes(key);

    /// <summary>Decodes a key for display and JSON; keys are always valid UTF-8 because they enter as strings.</summary>
    public static string Display(byte[] key) => Encoding.UTF8.GetString(key);

    /// <summary>Keys as dictionary keys: equal when their bytes are.</summary>
    public static IEqualityComparer<byte[]> Equality { get; } = new BytesEquality();

    /// <summary>The smallest key strictly greater than <paramref name="key"/>: the key followed by a zero byte.</summary>
    public static byte[] Successor(ReadOnlySpan<byte> key)
    {
        var next = new byte[key.Length + 1];
        key.CopyTo(next);
        return next;
    }

    private sealed class BytesEquality : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x is null ? y is null : y is not null && x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] key)
        {
            var hash = new HashCode();
            hash.AddBytes(key);
            return hash.ToHashCode();
        }
    }
}
