using Kbl.ColdTier;

namespace Kbl.Tests.ColdTier;

/// <summary>The local cold tier (a directory of this machine) against <see cref="ColdTierConformance"/>.</summary>
[Trait("Category", Category.Unit)]
public sealed class LocalColdTierTests : ColdTierConformance
{
    private readonly LocalColdTier _tier = new(Path.Combine(Path.GetTempPath(), $"kbl-tier-{Guid.NewGuid():N}"[..24]));

    protected override IColdTier Tier => _tier;

    protected override Task Tamper(string key, byte[] content) => File.WriteAllBytesAsync(Path.Combine(_tier.Root, key), content);

    [Fact]
    public async Task An_upload_leaves_no_partial_file_under_its_key()
    {
        await _tier.Upload("c/1/r/1.sst", Write(new byte[1000]));
        Assert.Equal(["1.sst"], Directory.EnumerateFiles(Path.Combine(_tier.Root, "c/1/r")).Select(Path.GetFileName));
    }
}
