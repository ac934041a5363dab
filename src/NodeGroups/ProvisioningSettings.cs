using Microsoft.Extensions.Configuration;

namespace Kbl.NodeGroups;

/// <summary>Reads and checks <c>Kbl:Provisioning</c>; shared by the silo and the Provisioner process.</summary>
public static class ProvisioningSettings
{
    /// <summary>
    /// Binds the section (each nested section strictly), refuses keys that neither <see cref="ProvisioningOptions"/>
    /// nor <paramref name="otherKeys"/> (the policy's, read by the silo) know, and validates.
    /// </summary>
    /// <exception cref="ProvisioningConfigurationException">a bad or unknown setting, with a one-line message.</exception>
    public static ProvisioningOptions Load(IConfiguration configuration, IEnumerable<string> otherKeys, bool? reconciles = null)
    {
        var section = configuration.GetSection(ProvisioningOptions.Section);
        var known = typeof(ProvisioningOptions).GetProperties().Select(p => p.Name).Concat(otherKeys).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (section.GetChildren().FirstOrDefault(c => !known.Contains(c.Key)) is { } unknown)
        {
            throw new ProvisioningConfigurationException($"unknown setting {unknown.Path}; {section.Path} has {string.Join(", ", known.Order(StringComparer.Ordinal))}");
        }

        var options = Bind<ProvisioningOptions>(configuration, ProvisioningOptions.Section, strict: false);
        options.Sqs = Bind<SqsOptions>(configuration, ProvisioningOptions.Section + ":Sqs");
        options.Eks = Bind<EksOptions>(configuration, ProvisioningOptions.Section + ":Eks");
        options.Kubernetes = Bind<KubernetesOptions>(configuration, ProvisioningOptions.Section + ":Kubernetes");
        options.Local = Bind<LocalProviderOptions>(configuration, ProvisioningOptions.Section + ":Local");
        if (new ProvisioningOptionsValidator(reconciles ?? options.RunsInProcess).Validate(null, options) is { Failed: true } bad)
        {
            throw new ProvisioningConfigurationException(bad.FailureMessage);
        }

        return options;
    }

    public static T Bind<T>(IConfiguration configuration, string section, bool strict = true)
        where T : new()
    {
        var options = new T();
        try
        {
            configuration.GetSection(section).Bind(options, o => o.ErrorOnUnknownConfiguration = strict);
        }
        catch (InvalidOperationException e)
        {
            throw new ProvisioningConfigurationException(e.Message.ReplaceLineEndings(" "));
        }

        return options;
    }
}

/// <summary>A provisioning setting is wrong; the message names it and says what it must be.</summary>
public sealed class ProvisioningConfigurationException(string message) : Exception(message);
