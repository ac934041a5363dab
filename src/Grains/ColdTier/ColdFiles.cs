using System.Security.Cryptography;

namespace Kbl.ColdTier;

/// <summary>Copies between streams while hashing what passes (SHA-256), for the stores' uploads and checked reads.</summary>
internal static class ColdFiles
{
    private const int Buffer = 1 << 20;

    /// <summary>The size and SHA-256 (lower-case hex) of <paramref name="file"/>.</summary>
    public static async Task<(long Bytes, string Sha256)> Hash(string file, CancellationToken cancellationToken)
    {
        await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, Buffer, useAsync: true);
        var hash = await SHA256.HashDataAsync(input, cancellationToken);
        return (input.Length, Convert.ToHexStringLower(hash));
    }

    /// <summary>Copies <paramref name="source"/> into a new file, synced to disk; the size and SHA-256 of what was copied.</summary>
    public static async Task<(long Bytes, string Sha256)> CopyToFile(Stream source, string file, CancellationToken cancellationToken)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        await using (var output = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, Buffer, useAsync: true))
        {
            var buffer = new byte[Buffer];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                sha.AppendData(buffer, 0, read);
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                bytes += read;
            }

            output.Flush(flushToDisk: true);
        }

        return (bytes, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    /// <summary>Throws unless what was read is <paramref name="stored"/>.</summary>
    public static void Verify(ColdObject stored, long bytes, string sha256, string where)
    {
        if (bytes != stored.Bytes || !string.Equals(sha256, stored.Sha256, StringComparison.Ordinal))
        {
            throw new ColdTierException($"cold-tier object {stored.Key} ({where}) is not the one written: {bytes} bytes with SHA-256 {sha256}, expected {stored.Bytes} bytes with SHA-256 {stored.Sha256}");
        }
    }
}
