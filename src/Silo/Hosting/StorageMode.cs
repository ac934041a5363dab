using System.ComponentModel;
using Kbl.Configuration;

namespace Kbl.Silo.Hosting;

/// <summary>Where Kbl's metadata (grain state) lives: <c>Kbl:Storage:Mode</c>.</summary>
[TypeConverter(typeof(SettingEnumConverter))]
public enum StorageMode
{
    /// <summary>One SQLite file shared by the silos of one machine (the default).</summary>
    Sqlite,

    /// <summary>A DynamoDB table.</summary>
    DynamoDb,
}
