using System.Collections.Concurrent;
using System.ComponentModel;
using System.Reflection;

namespace Kbl.Configuration;

/// <summary>
/// The names of a mode setting's values as users type them: a member's <see cref="SettingNameAttribute"/>, else its
/// name in lower case (<c>local</c>, <c>dry-run</c>, <c>dynamodb</c>). Compared case-insensitively.
/// </summary>
public static class SettingEnum
{
    private static readonly ConcurrentDictionary<Type, (string Name, Enum Value)[]> Names = new();

    /// <summary>Whether <paramref name="type"/> is an enum read by <see cref="SettingEnumConverter"/>.</summary>
    public static bool IsSettingEnum(Type type) => type.IsEnum && TypeDescriptor.GetConverter(type) is SettingEnumConverter;

    /// <summary>The name users type for <paramref name="value"/>: <c>dry-run</c> for <c>ProviderKind.DryRun</c>.</summary>
    public static string SettingName(this Enum value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return NameOf(value);
    }

    public static bool TryParse(Type type, string text, out Enum value)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var (name, member) in Of(type))
        {
            if (string.Equals(name, text, StringComparison.OrdinalIgnoreCase))
            {
                value = member;
                return true;
            }
        }

        value = default!;
        return false;
    }

    /// <summary>The accepted names for a message: <c>local, eks, dry-run or off</c>.</summary>
    public static string Choices(Type type)
    {
        var names = Of(type).Select(n => n.Name).ToList();
        return names.Count == 1 ? names[0] : $"{string.Join(", ", names[..^1])} or {names[^1]}";
    }

    internal static string NameOf(Enum value) =>
        Of(value.GetType()).FirstOrDefault(n => n.Value.Equals(value)).Name ?? value.ToString();

    private static (string Name, Enum Value)[] Of(Type type) => Names.GetOrAdd(type, static t =>
    [
        .. t.GetFields(BindingFlags.Public | BindingFlags.Static).Select(f =>
            (f.GetCustomAttribute<SettingNameAttribute>()?.Name ?? f.Name.ToLowerInvariant(), (Enum)f.GetValue(null)!)),
    ]);
}
