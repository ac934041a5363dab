using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Kbl.Hosting;
using Kbl.Persistence.DynamoDb;
using Kbl.Persistence.Sqlite;

namespace Kbl.Tests.Deployment;

/// <summary>
/// What the silo's code reads and serves, taken from the code itself so that a renamed setting or route breaks the
/// manifest tests: option classes of Kbl.Grains and of the grain storage providers by reflection (the test project
/// references them), those of the Silo project by reading their source (it is built for the process tests but not
/// referenced).
/// </summary>
public static partial class SiloSource
{
    private static readonly Lazy<IReadOnlyDictionary<string, SiloSettingKey>> AllKeys = new(LoadKeys);

    /// <summary>Every <c>Kbl:…</c> key the silo binds, case-insensitive as .NET configuration is.</summary>
    public static IReadOnlyDictionary<string, SiloSettingKey> Keys => AllKeys.Value;

    /// <summary>The C# files of a project folder (<c>src/Silo</c>), build output left out.</summary>
    public static IEnumerable<string> Files(string project, string pattern = "*.cs") =>
        Directory.EnumerateFiles(Manifests.PathOf(project), pattern, SearchOption.AllDirectories)
            .Where(f => !Manifests.Relative(f).Split('/').Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    /// <summary>Whether the silo tells Orleans' Kubernetes hosting to delete the pods of dead silos (it then needs the delete verb).</summary>
    public static bool DeletesDefunctSiloPods() =>
        Files("src/Silo").Any(f => DeleteDefunctPods().IsMatch(File.ReadAllText(f)));

    /// <summary>Whether the silo reads the ASP.NET Core <c>urls</c> setting (<c>ASPNETCORE_URLS</c>, <c>--urls</c>).</summary>
    public static bool ReadsUrls() =>
        Files("src/Silo").Any(f => File.ReadAllText(f).Contains("configuration[\"urls\"]", StringComparison.Ordinal));

    /// <summary>The DynamoDB API calls of Kbl's grain storage provider (<c>_client.GetItemAsync</c> → <c>GetItem</c>).</summary>
    public static IReadOnlySet<string> DynamoDbCalls() =>
        Files("src/Persistence.DynamoDb")
            .SelectMany(f => DynamoDbCall().Matches(File.ReadAllText(f)).Select(m => m.Groups["api"].Value))
            .ToHashSet(StringComparer.Ordinal);

    private static IReadOnlyDictionary<string, SiloSettingKey> LoadKeys()
    {
        var keys = new Dictionary<string, SiloSettingKey>(StringComparer.OrdinalIgnoreCase);

        // Kbl.Grains: every class with a public const Section (KblOptions, KblPlacementOptions in Placement/, ...); with the grain
        // storage providers' option classes, which the silo binds to literal sections (below).
        var grains = new[] { typeof(KblOptions), typeof(SqliteGrainStorageOptions), typeof(DynamoDbGrainStorageOptions) }
            .SelectMany(t => t.Assembly.GetTypes())
            .Where(t => t.IsClass && t.IsPublic)
            .ToList();
        foreach (var type in grains)
        {
            if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field && field.GetRawConstantValue() is string section)
            {
                AddReflected(keys, section, type);
            }
        }

        // Kbl:Provisioning: the provisioning options (Kbl.NodeGroups) and the policy's thresholds (Kbl.Grains) share one section.
        AddReflected(keys, Kbl.NodeGroups.ProvisioningOptions.Section, typeof(Kbl.Provisioning.ProvisioningPolicyOptions));
        AddReflected(keys, Kbl.NodeGroups.ProvisioningOptions.Section, typeof(Kbl.NodeGroups.ProvisioningOptions));
        AddReflected(keys, "Kbl:Provisioning:Sqs", typeof(Kbl.NodeGroups.SqsOptions));
        AddReflected(keys, "Kbl:Provisioning:Eks", typeof(Kbl.NodeGroups.EksOptions));
        AddReflected(keys, "Kbl:Provisioning:Kubernetes", typeof(Kbl.NodeGroups.KubernetesOptions));
        AddReflected(keys, "Kbl:Provisioning:Local", typeof(Kbl.NodeGroups.LocalProviderOptions));

        // Kbl.Silo: every class with a public const Section, read from its source.
        var classes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Files("src/Silo"))
        {
            var text = File.ReadAllText(file);
            if (ClassName().Match(text) is { Success: true } name)
            {
                classes[name.Groups["name"].Value] = text;
                if (SectionConstant().Match(text) is { Success: true } section)
                {
                    AddParsed(keys, section.Groups["section"].Value, text);
                }
            }
        }

        // Classes bound to a literal section by the silo (Bind<SqliteGrainStorageOptions>(configuration, "Kbl:Storage:Sqlite")).
        foreach (var file in Files("src/Silo"))
        {
            foreach (Match bind in BindToLiteral().Matches(File.ReadAllText(file)))
            {
                var (typeName, section) = (bind.Groups["type"].Value, bind.Groups["section"].Value);
                if (grains.FirstOrDefault(t => t.Name == typeName) is { } type)
                {
                    AddReflected(keys, section, type);
                }
                else if (classes.TryGetValue(typeName, out var text))
                {
                    AddParsed(keys, section, text);
                }
                else
                {
                    throw new InvalidOperationException($"the silo binds {typeName} to {section}, but no such option class was found");
                }
            }
        }

        return keys;
    }

    private static void AddReflected(Dictionary<string, SiloSettingKey> keys, string section, Type type)
    {
        var defaults = type.GetConstructor(Type.EmptyTypes) is not null ? Activator.CreateInstance(type) : null;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
        {
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var value = defaults is null ? null : property.GetValue(defaults);
            keys[$"{section}:{property.Name}"] = new SiloSettingKey(
                $"{section}:{property.Name}",
                propertyType.Name,
                value is null ? null : Convert.ToString(value, CultureInfo.InvariantCulture),
                propertyType.IsEnum ? propertyType : null);
        }
    }

    private static void AddParsed(Dictionary<string, SiloSettingKey> keys, string section, string source)
    {
        foreach (Match property in Property().Matches(source))
        {
            var name = property.Groups["name"].Value;
            var initializer = property.Groups["default"].Success ? property.Groups["default"].Value.Trim() : null;
            var literal = initializer switch
            {
                null => null,
                _ when initializer.StartsWith('"') && initializer.EndsWith('"') => initializer[1..^1],
                _ when PlainLiteral().IsMatch(initializer) => initializer,
                _ => null,
            };
            keys[$"{section}:{name}"] = new SiloSettingKey($"{section}:{name}", property.Groups["type"].Value, literal);
        }
    }

    [GeneratedRegex("^(-?[0-9]+|true|false)$")]
    private static partial Regex PlainLiteral();

    [GeneratedRegex(@"\bpublic\s+(?:sealed\s+)?(?:partial\s+)?class\s+(?<name>\w+)")]
    private static partial Regex ClassName();

    [GeneratedRegex(@"public\s+const\s+string\s+Section\s*=\s*""(?<section>[^""]+)""")]
    private static partial Regex SectionConstant();

    [GeneratedRegex(@"public\s+(?<type>[\w.?<>\[\]]+)\s+(?<name>\w+)\s*\{\s*get;\s*set;\s*\}(?:\s*=\s*(?<default>[^;]+);)?")]
    private static partial Regex Property();

    [GeneratedRegex(@"Bind<(?<type>\w+)>\(\s*\w+\s*,\s*""(?<section>Kbl:[^""]+)""")]
    private static partial Regex BindToLiteral();

    [GeneratedRegex(@"DeleteDefunctSiloPods\s*=\s*true")]
    private static partial Regex DeleteDefunctPods();

    [GeneratedRegex(@"_client\.(?<api>\w+?)Async\(")]
    private static partial Regex DynamoDbCall();
}
