using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;

namespace Kbl.Tests.Deployment;

/// <summary>The repository's Kubernetes manifests (<c>k8s/</c>), loaded into the KubernetesClient models.</summary>
public static class Manifests
{
    public const string ExampleOverlay = "k8s/overlays/example";

    private static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kbl.sln")) && Directory.Exists(Path.Combine(dir.FullName, "k8s")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no repository root (Kbl.sln beside k8s/) above {AppContext.BaseDirectory}");
    });

    private static readonly Lazy<IReadOnlyList<object>> Example = new(() => Render(ExampleOverlay));

    public static string RepoRoot => Root.Value;

    public static string PathOf(string relative) => Path.Combine(RepoRoot, relative);

    public static string Relative(string path) => Path.GetRelativePath(RepoRoot, path).Replace('\\', '/');

    /// <summary>Every YAML file under k8s/, kustomization files included.</summary>
    public static IReadOnlyList<string> YamlFiles() =>
        [.. Directory.EnumerateFiles(PathOf("k8s"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];

    public static IReadOnlyList<string> KustomizationFiles() =>
        [.. YamlFiles().Where(f => Path.GetFileName(f) == Kustomize.FileName)];

    /// <summary>
    /// Every document of a YAML text as its KubernetesClient model, strictly: a field the model does not have (a typo,
    /// a wrong indent) or a duplicate key throws.
    /// </summary>
    public static List<object> LoadStrict(string yaml) => KubernetesYaml.LoadAllFromString(yaml, strict: true);

    /// <summary>What <c>kubectl apply -k</c> would apply for a kustomization directory, as typed models.</summary>
    public static IReadOnlyList<object> Render(string relativeDirectory) =>
        [.. Kustomize.Render(PathOf(relativeDirectory)).Select(r => LoadStrict(r.ToJsonString(Json)).Single())];

    /// <summary>The example overlay, rendered once.</summary>
    public static IReadOnlyList<object> ExampleResources => Example.Value;

    public static IReadOnlyList<T> Of<T>(this IReadOnlyList<object> resources) => [.. resources.OfType<T>()];

    public static T Named<T>(this IReadOnlyList<object> resources, string name)
        where T : IMetadata<V1ObjectMeta> =>
        resources.OfType<T>().SingleOrDefault(r => r.Metadata.Name == name) ??
            throw new InvalidOperationException($"no single {typeof(T).Name} named {name}");

    /// <summary>The pod's Kbl silo container.</summary>
    public static V1Container Silo(this V1StatefulSet set) =>
        set.Spec.Template.Spec.Containers.SingleOrDefault(c => c.Name == "silo") ??
            throw new InvalidOperationException($"StatefulSet {set.Metadata.Name} has no container named silo");

    /// <summary>A container's literal environment value (null when absent or not a literal).</summary>
    public static string? Env(this V1Container container, string name) =>
        container.Env?.SingleOrDefault(e => e.Name == name)?.Value;

    public static bool Matches(this V1LabelSelector selector, IDictionary<string, string> labels)
    {
        var matchLabels = selector.MatchLabels ?? new Dictionary<string, string>();
        var expressions = selector.MatchExpressions ?? [];
        return (matchLabels.Count > 0 || expressions.Count > 0) &&
            matchLabels.All(l => labels.TryGetValue(l.Key, out var v) && v == l.Value) &&
            expressions.All(e => e.OperatorProperty switch
            {
                "In" => labels.TryGetValue(e.Key, out var v) && e.Values.Contains(v),
                "NotIn" => !labels.TryGetValue(e.Key, out var v) || !e.Values.Contains(v),
                "Exists" => labels.ContainsKey(e.Key),
                "DoesNotExist" => !labels.ContainsKey(e.Key),
                _ => throw new InvalidDataException($"unknown selector operator {e.OperatorProperty}"),
            });
    }

    /// <summary>A Service's (map) selector over a pod's labels.</summary>
    public static bool Selects(this IDictionary<string, string>? selector, IDictionary<string, string> labels) =>
        selector is { Count: > 0 } && selector.All(l => labels.TryGetValue(l.Key, out var v) && v == l.Value);
}
