using System.ComponentModel;
using System.Globalization;

namespace Kbl.Tests.Deployment;

/// <summary>
/// One configuration key the silo binds (<c>Kbl:Cluster:SiloPort</c>): the C# type of its property and its
/// default, as written in the option class.
/// </summary>
public sealed record SiloSettingKey(string Path, string Type, string? Default, Type? EnumType = null)
{
    /// <summary>Whether the configuration binder would accept <paramref name="value"/> for this key.</summary>
    public bool Accepts(string value) => Type.TrimEnd('?') switch
    {
        "string" or "String" => true,
        "int" or "Int32" => int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
        "bool" or "Boolean" => bool.TryParse(value, out _),
        "TimeSpan" => TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out _),
        _ when EnumType is not null => Converts(EnumType, value),
        _ => true,
    };

    /// <summary>The binder reads an enum through its type converter (the names users type, <c>dry-run</c>, for Kbl's modes).</summary>
    private static bool Converts(Type type, string value)
    {
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException)
        {
            return false;
        }
    }
}
