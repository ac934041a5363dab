using Kbl.Configuration;
using Kbl.Tests.Configuration;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// <c>Kbl:Provisioning:MaxNodesForLoad</c>: the local provider's silos share one machine's cores, so load alone
/// asks for one of them unless the setting says otherwise; providers of separate machines have no such limit.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class LocalCapacitySettingsTests
{
    [Fact]
    public void The_local_provider_holds_load_to_one_silo_unless_told_otherwise()
    {
        Assert.Equal(1, Settings.Load().Policy.MaxNodesForLoad);
        Assert.Equal(4, Settings.Load(("Kbl:Provisioning:MaxNodesForLoad", "4")).Policy.MaxNodesForLoad);
    }

    [Theory]
    [InlineData("dry-run")]
    [InlineData("off")]
    public void Other_providers_leave_load_to_the_quota(string provider) =>
        Assert.Null(Settings.Load(("Kbl:Provisioning:Provider", provider)).Policy.MaxNodesForLoad);

    [Fact]
    public void A_limit_below_one_is_refused_naming_the_setting()
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Settings.Load(("Kbl:Provisioning:MaxNodesForLoad", "0")));
        Assert.Contains("Kbl:Provisioning:MaxNodesForLoad 0 must be at least 1", refused.Message, StringComparison.Ordinal);
    }
}
