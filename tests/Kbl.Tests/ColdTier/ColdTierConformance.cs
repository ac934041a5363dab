using System.Security.Cryptography;
using Kbl.ColdTier;

namespace Kbl.Tests.ColdTier;

/// <summary>
/// What every cold tier must do, run against each (the local directory; S3 on moto_server): an object reads back
/// byte for byte, a read of an object that is not the one written (changed, replaced, missing) fails with
/// <see cref="ColdTierException"/>, a prefix delete removes that prefix only, and keys cannot
/// climb out of the tier.
/// </summary>
public abstract class ColdTierConformance : IDisposable
{
    private readonly string _scratch = Path.Combine(Path.GetTempPath(), $"kbl-cold-{Guid.NewGuid():N}"[..24]);

    protected ColdTierConformance() => Directory.CreateDirectory(_scratch);

    protected abstract IColdTier Tier { get; }

    /// <summary>Replaces the stored object under <paramref name="key"/> with <paramref name="content"/>, behind the tier's back.</summary>
    protected abstract Task Tamper(string key, byte[] content);

    [Fact]
    public async Task An_object_reads_back_byte_for_byte_with_its_size_and_sha256()
    {
        var content = RandomNumberGenerator.GetBytes(300_000);
        var stored = await Tier.Upload("c/1/r.0/7.sst", Write(content));
        Assert.Equal(new ColdObject("c/1/r.0/7.sst", content.Length, Convert.ToHexStringLower(SHA256.HashData(content))), stored);

        var copy = Path.Combine(_scratch, "copy");
        await Tier.Download(stored, copy);
        Assert.Equal(content, await File.ReadAllBytesAsync(copy));
    }

    [Fact]
    public async Task A_changed_or_missing_object_is_refused()
    {
        var content = RandomNumberGenerator.GetBytes(10_000);
        var stored = await Tier.Upload("c/1/r/3.sst", Write(content));
        var changed = (byte[])content.Clone();
        changed[5000] ^= 1;
        await Tamper(stored.Key, changed);
        var copy = Path.Combine(_scratch, "changed");
        var refused = await Assert.ThrowsAsync<ColdTierException>(() => Tier.Download(stored, copy));
        Assert.Contains("not the one written", refused.Message, StringComparison.Ordinal);

        var missing = Path.Combine(_scratch, "missing");
        await Assert.ThrowsAsync<ColdTierException>(() => Tier.Download(stored with { Key = "c/1/r/4.sst" }, missing));
    }

    [Fact]
    public async Task A_prefix_delete_removes_that_prefix_only()
    {
        var file = Write([1, 2, 3]);
        var a = await Tier.Upload("c/1/r.0/1.sst", file);
        var b = await Tier.Upload("c/1/r.0/2.sst", file);
        var sibling = await Tier.Upload("c/1/r.01/1.sst", file);
        var other = await Tier.Upload("c/2/r.0/1.sst", file);
        await Tier.DeletePrefix("c/1/r.0/");
        await Tier.DeletePrefix("c/9/"); // nothing there: nothing happens

        foreach (var gone in new[] { a, b })
        {
            await Assert.ThrowsAsync<ColdTierException>(() => Tier.Download(gone, Path.Combine(_scratch, Guid.NewGuid().ToString("N"))));
        }

        foreach (var kept in new[] { sibling, other })
        {
            await Tier.Download(kept, Path.Combine(_scratch, Guid.NewGuid().ToString("N")));
        }
    }

    [Theory]
    [InlineData("../outside.sst")]
    [InlineData("/etc/passwd")]
    [InlineData("c//r.sst")]
    [InlineData("c/./r.sst")]
    public async Task A_key_that_climbs_out_of_the_tier_is_refused(string key) =>
        await Assert.ThrowsAsync<ArgumentException>(() => Tier.Upload(key, Write([1])));

    public void Dispose()
    {
        Directory.Delete(_scratch, recursive: true);
        GC.SuppressFinalize(this);
    }

    protected string Write(byte[] content)
    {
        var file = Path.Combine(_scratch, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(file, content);
        return file;
    }
}
