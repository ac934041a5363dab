namespace Kbl.Keys;

/// <summary>
/// A contiguous key range <c>[Lo, Hi)</c> in ordinal byte order of the UTF-8 key. <see cref="Hi"/> null is +infinity.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.KeyRange")]
public sealed class KeyRange : IEquatable<KeyRange>
{
    public KeyRange(byte[] lo, byte[]? hi)
    {
        ArgumentNullException.ThrowIfNull(lo);
        if (hi is not null && KeyOrder.Compare(lo, hi) >= 0)
        {
            throw new ArgumentException("A key range needs lo < hi.", nameof(hi));
        }

        Lo = lo;
        Hi = hi;
    }

    /// <summary>The whole key space: the range of a colony's root.</summary>
    public static KeyRange All { get; } = new([], null);

    [Id(0)] public byte[] Lo { get; }

    [Id(1)] public byte[]? Hi { get; }

    public bool Contains(ReadOnlySpan<byte> key) =>
        KeyOrder.Compare(key, Lo) >= 0 && (Hi is null || KeyOrder.Compare(key, Hi) < 0);

    /// <summary>True when this range and <c>[from, to)</c> share at least one key.</summary>
    public bool Overlaps(ReadOnlySpan<byte> from, byte[]? to) =>
        (Hi is null || KeyOrder.Compare(from, Hi) < 0) && (to is null || KeyOrder.Compare(Lo, to) < 0);

    /// <summary>
    /// Cuts the range at <paramref name="boundaries"/> (strictly increasing, strictly inside the range) into
    /// <c>boundaries.Count + 1</c> adjacent ranges that together cover exactly this one.
    /// </summary>
    public IReadOnlyList<KeyRange> SplitAt(IReadOnlyList<byte[]> boundaries)
    {
        var parts = new List<KeyRange>(boundaries.Count + 1);
        var lo = Lo;
        foreach (var boundary in boundaries)
        {
            if (!Contains(boundary) || KeyOrder.Compare(boundary, lo) <= 0)
            {
                throw new ArgumentException("Split boundaries must be strictly increasing and strictly inside the range.", nameof(boundaries));
            }

            parts.Add(new KeyRange(lo, boundary));
            lo = boundary;
        }

        parts.Add(new KeyRange(lo, Hi));
        return parts;
    }

    public bool Equals(KeyRange? other) =>
        other is not null && Lo.AsSpan().SequenceEqual(other.Lo) &&
        (Hi is null ? other.Hi is null : other.Hi is not null && Hi.AsSpan().SequenceEqual(other.Hi));

    public override bool Equals(object? obj) => Equals(obj as KeyRange);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Lo);
        hash.Add(Hi is null);
        if (Hi is not null)
        {
            hash.AddBytes(Hi);
        }

        return hash.ToHashCode();
    }

    public override string ToString() => $"[{KeyOrder.Display(Lo)}, {(Hi is null ? "∞" : KeyOrder.Display(Hi))})";
}
