using System.Text;
using Kbl.Colonies;

namespace Kbl.Tests.Replication;

/// <summary>The genome's <c>redundancy</c> field: what it accepts, what it refuses (naming the field), and how it reads back.</summary>
[Trait("Category", Category.Unit)]
public sealed class RedundancyGenomeTests
{
    [Theory]
    [InlineData("""{"redundancy": {"mode": "mirror"}}""", RedundancyMode.Mirror, 2, 1)]
    [InlineData("""{"redundancy": {"mode": "mirror", "copies": 3, "minCopies": 2}}""", RedundancyMode.Mirror, 3, 2)]
    [InlineData("""{"redundancy": {"mode": "none"}}""", RedundancyMode.None, 1, 1)]
    [InlineData("""{}""", RedundancyMode.None, 1, 1)]
    public void A_valid_redundancy_is_read_and_written_back(string json, RedundancyMode mode, int copies, int minCopies)
    {
        Assert.True(GenomeJson.TryParse(Encoding.UTF8.GetBytes(json), Genome.Default, out var genome, out var error), error);
        Assert.Equal(new Redundancy(mode, copies, minCopies), genome.Redundancy);

        Assert.True(GenomeJson.TryParse(Encoding.UTF8.GetBytes(GenomeJson.ToJson(genome)), Genome.Default, out var again, out error), error);
        Assert.Equal(genome, again);
    }

    [Theory]
    [InlineData("""{"redundancy": 2}""", "genome field 'redundancy'")]
    [InlineData("""{"redundancy": {"mode": "raid6"}}""", "'mode' must be")]
    [InlineData("""{"redundancy": {"mode": "mirror", "copies": 0}}""", "'copies' must be between 1 and 5")]
    [InlineData("""{"redundancy": {"mode": "mirror", "copies": 6}}""", "'copies' must be between 1 and 5")]
    [InlineData("""{"redundancy": {"mode": "mirror", "copies": 2, "minCopies": 3}}""", "'minCopies' (3) must not be above 'copies' (2)")]
    [InlineData("""{"redundancy": {"mode": "none", "minCopies": 1}}""", "go with mode \"mirror\"")]
    [InlineData("""{"redundancy": {"copies": 2}}""", "'mode' is missing")]
    [InlineData("""{"redundancy": {"mode": "mirror", "replicas": 2}}""", "'replicas' is unknown")]
    public void A_bad_redundancy_is_refused_naming_the_field(string json, string expected)
    {
        Assert.False(GenomeJson.TryParse(Encoding.UTF8.GetBytes(json), Genome.Default, out var genome, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.StartsWith("genome field 'redundancy'", error, StringComparison.Ordinal);
        Assert.Same(Genome.Default, genome);
    }
}
