namespace Kbl.ColdTier;

/// <summary>
/// Where hibernated shards sleep: an object store that outlives every silo (S3 on AWS; a directory on one machine).
/// Objects are written once under a key of their own and read back whole; a read checks the object is exactly the
/// one written (its size and SHA-256), so a damaged or replaced object is never ingested.
/// </summary>
public interface IColdTier
{
    /// <summary>Stores <paramref name="file"/> as <paramref name="key"/> (replacing nothing: keys are never reused).</summary>
    Task<ColdObject> Upload(string key, string file, CancellationToken cancellationToken = default);

    /// <summary>Reads <paramref name="stored"/> into <paramref name="file"/>; throws <see cref="ColdTierException"/> when it is missing or not what was stored.</summary>
    Task Download(ColdObject stored, string file, CancellationToken cancellationToken = default);

    /// <summary>Deletes every object under the folder <paramref name="prefix"/> (a prefix ending in '/'; nothing when there is none).</summary>
    Task DeletePrefix(string prefix, CancellationToken cancellationToken = default);
}

/// <summary>An object in the cold tier: its key, size and SHA-256 (lower-case hex), as it was written.</summary>
[GenerateSerializer, Immutable, Alias("kbl.ColdObject")]
public sealed record ColdObject([property: Id(0)] string Key, [property: Id(1)] long Bytes, [property: Id(2)] string Sha256);

/// <summary>A cold-tier object that is missing, or not the one that was written.</summary>
public sealed class ColdTierException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The rules for cold-tier keys, shared by the stores: relative, '/'-separated, no empty or dot segments.</summary>
public static class ColdKeys
{
    /// <summary>Throws unless <paramref name="key"/> (or a prefix ending in '/') is relative and every segment a plain name.</summary>
    public static void Check(string key)
    {
        if (key.Length == 0 || key.StartsWith('/') || key.TrimEnd('/').Split('/').Any(s => s is "" or "." or ".." || s.Contains('\\', StringComparison.Ordinal)))
        {
            throw new ArgumentException($"'{key}' is not a cold-tier key", nameof(key));
        }
    }

    /// <summary>Throws unless <paramref name="prefix"/> is a folder of keys: a valid key path ending in '/'.</summary>
    public static void CheckFolder(string prefix)
    {
        Check(prefix);
        if (!prefix.EndsWith('/'))
        {
            throw new ArgumentException($"'{prefix}' is not a cold-tier folder (it must end with '/')", nameof(prefix));
        }
    }
}
