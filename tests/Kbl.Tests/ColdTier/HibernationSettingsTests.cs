using System.Text;
using Kbl.Colonies;
using Kbl.Configuration;
using Kbl.Hosting;
using Kbl.Silo.Hosting;
using Microsoft.Extensions.Configuration;

namespace Kbl.Tests.ColdTier;

/// <summary>
/// The genome's <c>hibernateAfterSeconds</c> and the silo's <c>Kbl:ColdTier</c> settings: what they accept, and what
/// they refuse with a message naming the field or setting.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class HibernationSettingsTests
{
    [Theory]
    [InlineData("""{"hibernateAfterSeconds": 0}""", 0)]
    [InlineData("""{"hibernateAfterSeconds": 3600}""", 3600)]
    [InlineData("""{}""", 0)]
    public void A_valid_hibernate_after_is_read_and_written_back(string json, long seconds)
    {
        Assert.True(GenomeJson.TryParse(Encoding.UTF8.GetBytes(json), Genome.Default, out var genome, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), genome.HibernateAfter);
        Assert.True(GenomeJson.TryParse(Encoding.UTF8.GetBytes(GenomeJson.ToJson(genome)), Genome.Default, out var again, out error), error);
        Assert.Equal(genome, again);
    }

    [Theory]
    [InlineData("""{"hibernateAfterSeconds": -1}""", "must be between 0 and 31536000")]
    [InlineData("""{"hibernateAfterSeconds": 31536001}""", "must be between 0 and 31536000")]
    [InlineData("""{"hibernateAfterSeconds": 1.5}""", "must be a whole number")]
    [InlineData("""{"hibernateAfterSeconds": "1h"}""", "must be a whole number")]
    public void A_bad_hibernate_after_is_refused_naming_the_field(string json, string expected)
    {
        Assert.False(GenomeJson.TryParse(Encoding.UTF8.GetBytes(json), Genome.Default, out _, out var error));
        Assert.StartsWith("genome field 'hibernateAfterSeconds'", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cold_tier_defaults_to_a_directory_shared_by_the_silos_of_the_machine()
    {
        var tier = Load().ColdTier;
        Assert.Equal(ColdTierMode.Local, tier.Mode);
        Assert.Equal("data/cold-tier", tier.Path);
    }

    [Fact]
    public void An_s3_cold_tier_is_read_whole()
    {
        var tier = Load(("Kbl:ColdTier:Mode", "s3"), ("Kbl:ColdTier:S3:Bucket", "kbl-snapshots"), ("Kbl:ColdTier:S3:Prefix", "prod/"), ("Kbl:ColdTier:S3:Region", "eu-west-1")).ColdTier;
        Assert.Equal((ColdTierMode.S3, "kbl-snapshots", "prod/", "eu-west-1"), (tier.Mode, tier.S3.Bucket, tier.S3.Prefix, tier.S3.Region));
    }

    [Theory]
    [InlineData("Kbl:ColdTier:Mode", "glacier", "Kbl:ColdTier:Mode")]
    [InlineData("Kbl:ColdTier:Bucket", "x", "Kbl:ColdTier:Bucket")]
    [InlineData("Kbl:ColdTier:Path", "", "Kbl:ColdTier:Path")]
    [InlineData("Kbl:Provisioning:GroupMinNodes:cold", "-1", "Kbl:Provisioning:GroupMinNodes:cold")]
    public void A_bad_window_setting_stops_the_silo_naming_it(string key, string value, string named)
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Load((key, value)));
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Kbl:ColdTier:S3:Bucket", "", "Kbl:ColdTier:S3:Bucket")]
    [InlineData("Kbl:ColdTier:S3:Bucket", "Not_A_Bucket", "Kbl:ColdTier:S3:Bucket")]
    [InlineData("Kbl:ColdTier:S3:Prefix", "/abs/", "Kbl:ColdTier:S3:Prefix")]
    [InlineData("Kbl:ColdTier:S3:ServiceUrl", "ftp://x", "Kbl:ColdTier:S3:ServiceUrl")]
    [InlineData("Kbl:ColdTier:S3:PartBytes", "1024", "Kbl:ColdTier:S3:PartBytes")]
    public void A_bad_s3_setting_stops_the_silo_naming_it(string key, string value, string named)
    {
        var settings = new List<(string, string)> { ("Kbl:ColdTier:Mode", "s3") };
        if (key != "Kbl:ColdTier:S3:Bucket")
        {
            settings.Add(("Kbl:ColdTier:S3:Bucket", "kbl-snapshots"));
        }

        settings.Add((key, value));
        var refused = Assert.Throws<KblConfigurationException>(() => Load([.. settings]));
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
    }

    private static KblSettings Load(params (string Key, string Value)[] settings) => Kbl.Tests.Configuration.Settings.Load(settings);
}
