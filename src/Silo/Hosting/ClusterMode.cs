using System.ComponentModel;
using Kbl.Configuration;

namespace Kbl.Silo.Hosting;

/// <summary>How silos find each other: <c>Kbl:Cluster:Mode</c>.</summary>
[TypeConverter(typeof(SettingEnumConverter))]
public enum ClusterMode
{
    /// <summary>Silo processes on one machine, membership kept by the primary silo (the default).</summary>
    Localhost,

    /// <summary>Membership in Redis: any silo may die without taking the cluster down.</summary>
    Redis,
}
