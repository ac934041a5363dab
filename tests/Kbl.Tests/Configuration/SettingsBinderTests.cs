using Kbl.Configuration;
using Kbl.NodeGroups;
using Kbl.Provisioning;
using Microsoft.Extensions.Configuration;

namespace Kbl.Tests.Configuration;

/// <summary>
/// How a setting a user types is read, for the silo and the Provisioner alike: modes by the names users type, in any
/// case; anything else (a misspelled mode, an unknown key at any depth) refused with one line naming the setting.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class SettingsBinderTests
{
    [Theory]
    [InlineData("dry-run", ProviderKind.DryRun)]
    [InlineData("Dry-Run", ProviderKind.DryRun)]
    [InlineData("local", ProviderKind.Local)]
    [InlineData("EKS", ProviderKind.Eks)]
    [InlineData("off", ProviderKind.Off)]
    public void A_provider_is_read_by_the_name_users_type_in_any_case(string typed, ProviderKind provider)
    {
        var options = Bind(("Provider", typed), ("Queue", "SQS"));
        Assert.Equal(provider, options.Provider);
        Assert.Equal(QueueKind.Sqs, options.Queue);
    }

    [Theory]
    [InlineData("cloud")]
    [InlineData("DryRun")]
    [InlineData("dry_run")]
    [InlineData("2")]
    [InlineData("local,eks")]
    [InlineData("")]
    public void A_provider_that_is_none_of_the_names_is_refused_naming_the_setting_and_the_names(string typed)
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Bind(("Provider", typed)));
        Assert.Equal($"Kbl:Provisioning:Provider '{typed}' must be local, eks, dry-run or off", refused.Message);
    }

    [Fact]
    public void A_mode_is_written_back_as_users_type_it() =>
        Assert.Equal(["local", "eks", "dry-run", "off"], Enum.GetValues<ProviderKind>().Select(p => p.SettingName()));

    [Theory]
    [InlineData("Colour", "unknown setting Kbl:Provisioning:Colour; ")]
    [InlineData("Eks:Colour", "unknown setting Kbl:Provisioning:Eks:Colour; Kbl:Provisioning:Eks has ClusterName, ")]
    [InlineData("Sqs:Colour", "unknown setting Kbl:Provisioning:Sqs:Colour; Kbl:Provisioning:Sqs has QueueUrl, ")]
    public void An_unknown_key_is_refused_at_any_depth(string key, string start)
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Bind((key, "blue")));
        Assert.StartsWith(start, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_keys_of_a_second_class_in_the_section_are_no_mistake_for_the_first()
    {
        var configuration = Configuration(("Period", "00:00:05"), ("Provider", "eks"));
        Assert.Throws<KblConfigurationException>(() => SettingsBinder.Bind<ProvisioningOptions>(configuration, ProvisioningOptions.Section));

        var options = SettingsBinder.Bind<ProvisioningOptions>(configuration, ProvisioningOptions.Section, alsoKnown: SettingsBinder.Keys<ProvisioningPolicyOptions>());
        var policy = SettingsBinder.Bind(configuration, ProvisioningOptions.Section, new ProvisioningPolicyOptionsValidator(), SettingsBinder.Keys<ProvisioningOptions>());
        Assert.Equal(ProviderKind.Eks, options.Provider);
        Assert.Equal(TimeSpan.FromSeconds(5), policy.Period);
    }

    [Fact]
    public void A_value_the_validator_refuses_is_its_first_failure_in_one_line()
    {
        var refused = Assert.Throws<KblConfigurationException>(() =>
            SettingsBinder.Bind(Configuration(("Provider", "eks"), ("ClusterUrl", "http://kbl:8080")), ProvisioningOptions.Section, new ProvisioningOptionsValidator(ProvisioningRole.Provisioner)));
        Assert.Equal("Kbl:Provisioning:Eks:ClusterName is required with the eks provider", refused.Message);
    }

    private static ProvisioningOptions Bind(params (string Key, string Value)[] settings) =>
        SettingsBinder.Bind<ProvisioningOptions>(Configuration(settings), ProvisioningOptions.Section);

    private static IConfiguration Configuration(params (string Key, string Value)[] settings) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create($"{ProvisioningOptions.Section}:{s.Key}", (string?)s.Value)))
            .Build();
}
