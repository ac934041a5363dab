namespace Kbl.Configuration;

/// <summary>
/// How users spell an enum member in configuration when that is not its name in lower case: <c>dry-run</c> for
/// <c>DryRun</c>. The enum carries <c>[TypeConverter(typeof(SettingEnumConverter))]</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class SettingNameAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
