using System.ComponentModel;
using Kbl.Configuration;

namespace Kbl.NodeGroups;

/// <summary>Who acts on desired states: <c>Kbl:Provisioning:Provider</c>.</summary>
[TypeConverter(typeof(SettingEnumConverter))]
public enum ProviderKind
{
    /// <summary>Silo processes on this machine (the default).</summary>
    Local,

    /// <summary>EKS managed node groups, and a silo StatefulSet per group under Kubernetes.</summary>
    Eks,

    /// <summary>Applies nothing: prints the calls the eks provider would make.</summary>
    [SettingName("dry-run")]
    DryRun,

    /// <summary>Plan only: nothing is published.</summary>
    Off,
}
