using System.ComponentModel;
using System.Globalization;

namespace Kbl.Configuration;

/// <summary>
/// Reads a mode setting into its enum by the names users type (<see cref="SettingEnum"/>): case-insensitive, and only
/// those names (no numbers, no comma lists, as <see cref="EnumConverter"/> would take). Put it on the enum with
/// <c>[TypeConverter(typeof(SettingEnumConverter))]</c>; the configuration binder then uses it.
/// </summary>
public sealed class SettingEnumConverter(Type type) : EnumConverter(type)
{
    public override object ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string text
            ? SettingEnum.TryParse(EnumType, text, out var parsed) ? parsed : throw new FormatException($"'{text}' must be {SettingEnum.Choices(EnumType)}")
            : base.ConvertFrom(context, culture, value)!;

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType) =>
        destinationType == typeof(string) && value is Enum member && member.GetType() == EnumType
            ? SettingEnum.NameOf(member)
            : base.ConvertTo(context, culture, value, destinationType);
}
