using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kbl.Configuration;

/// <summary>
/// Reads a configuration section into its options class and checks it before anything starts, for the silo and the
/// Provisioner alike. A key the class does not have (at any depth), a mode that is none of its names, a value of the
/// wrong type or one the class's validator refuses throws a <see cref="KblConfigurationException"/> whose one-line
/// message names the setting.
/// </summary>
public static class SettingsBinder
{
    /// <summary>Binds <paramref name="section"/> to a new <typeparamref name="T"/> and validates it with <paramref name="validator"/>.</summary>
    /// <param name="alsoKnown">Keys of the section that are not <typeparamref name="T"/>'s but are no mistake: its sub-sections bound by
    /// other classes, or the keys of a second class sharing the section.</param>
    /// <exception cref="KblConfigurationException">a bad or unknown setting.</exception>
    public static T Bind<T>(IConfiguration configuration, string section, IValidateOptions<T>? validator = null, IEnumerable<string>? alsoKnown = null)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var values = configuration.GetSection(section);
        RejectUnknown(values, typeof(T), alsoKnown ?? []);
        var options = new T();
        try
        {
            // Unknown keys were refused above; those in alsoKnown belong to other classes, so the binder ignores them.
            values.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            throw new KblConfigurationException(e.Message.ReplaceLineEndings(" "));
        }

        if (validator is not null)
        {
            Validate(options, validator);
        }

        return options;
    }

    /// <summary>Runs <paramref name="validator"/> on options already bound (and completed with defaults that depend on other sections).</summary>
    /// <exception cref="KblConfigurationException">the first failure.</exception>
    public static void Validate<T>(T options, IValidateOptions<T> validator)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        if (validator.Validate(Options.DefaultName, options) is { Failed: true } result)
        {
            throw new KblConfigurationException(result.Failures?.FirstOrDefault() ?? result.FailureMessage);
        }
    }

    /// <summary>The keys an options class binds: its public settable properties.</summary>
    public static IEnumerable<string> Keys<T>() => Settable(typeof(T)).Select(p => p.Name);

    private static void RejectUnknown(IConfigurationSection section, Type type, IEnumerable<string> alsoKnown)
    {
        var properties = Settable(type).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        var known = properties.Keys.Concat(alsoKnown).ToList();
        foreach (var child in section.GetChildren())
        {
            if (!properties.TryGetValue(child.Key, out var property))
            {
                if (!known.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                {
                    throw new KblConfigurationException($"unknown setting {child.Path}; {section.Path} has {string.Join(", ", known)}");
                }

                continue;
            }

            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (SettingEnum.IsSettingEnum(propertyType) && child.Value is { } text && !SettingEnum.TryParse(propertyType, text, out _))
            {
                throw new KblConfigurationException($"{child.Path} '{text}' must be {SettingEnum.Choices(propertyType)}");
            }

            if (IsOptionsClass(propertyType))
            {
                RejectUnknown(child, propertyType, []);
            }
        }
    }

    /// <summary>A nested options class (<c>Kbl:Provisioning:Eks</c>), as opposed to a value, a list or a map.</summary>
    private static bool IsOptionsClass(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && type.GetConstructor(Type.EmptyTypes) is not null;

    private static IEnumerable<PropertyInfo> Settable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true });
}
