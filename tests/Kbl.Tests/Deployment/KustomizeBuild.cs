using System.Text.Json.Nodes;

namespace Kbl.Tests.Deployment;

/// <summary>
/// Renders a kustomization the way <c>kubectl kustomize</c> does, for the features Kbl's kustomizations use, so
/// the tests check what would be applied without kubectl (not installed on every machine). The features, in
/// kustomize's order: <c>resources</c> (files and directories), <c>patches</c> (strategic merge, by
/// <see cref="StrategicMerge"/>), <c>nameSuffix</c>, <c>labels</c>, <c>images</c>. Anything else in a
/// kustomization fails the build, so the renderer cannot silently diverge from kustomize.
/// </summary>
public static class KustomizeBuild
{
    public const string FileName = "kustomization.yaml";

    private static readonly HashSet<string> Supported = ["apiVersion", "kind", "resources", "patches", "nameSuffix", "labels", "images"];

    public static List<JsonObject> Build(string directory)
    {
        var file = Path.Combine(directory, FileName);
        var kustomization = YamlJson.Single(File.ReadAllText(file), file);
        if (kustomization.Select(p => p.Key).FirstOrDefault(key => !Supported.Contains(key)) is { } unsupported)
        {
            throw new NotSupportedException($"{file}: '{unsupported}' is a kustomize feature the test renderer does not model");
        }

        if ((string?)kustomization["kind"] != "Kustomization" || (string?)kustomization["apiVersion"] != "kustomize.config.k8s.io/v1beta1")
        {
            throw new InvalidDataException($"{file} is not a kustomize.config.k8s.io/v1beta1 Kustomization");
        }

        var resources = new List<JsonObject>();
        foreach (var entry in Strings(kustomization["resources"]))
        {
            var path = Path.GetFullPath(Path.Combine(directory, entry));
            if (Directory.Exists(path))
            {
                resources.AddRange(Build(path));
            }
            else if (File.Exists(path))
            {
                resources.AddRange(YamlJson.Documents(File.ReadAllText(path)).OfType<JsonObject>());
            }
            else
            {
                throw new FileNotFoundException($"{file} lists resource '{entry}', which does not exist", path);
            }
        }

        foreach (var patch in Patches(directory, kustomization))
        {
            var targets = resources.Where(r => Kind(r) == Kind(patch) && Name(r) == Name(patch) &&
                (Namespace(patch) is null || Namespace(r) == Namespace(patch))).ToList();
            if (targets.Count != 1)
            {
                throw new InvalidDataException($"{file}: a patch of {Kind(patch)} {Name(patch)} matches {targets.Count} resources");
            }

            resources[resources.IndexOf(targets[0])] = StrategicMerge.Apply(targets[0], patch);
        }

        if ((string?)kustomization["nameSuffix"] is { } suffix)
        {
            // kustomize also renames references to a renamed resource; with only StatefulSets there are none to rename.
            if (resources.FirstOrDefault(r => Kind(r) != "StatefulSet") is { } other)
            {
                throw new NotSupportedException($"{file}: nameSuffix over a {Kind(other)} would need kustomize's name references, not modelled");
            }

            foreach (var resource in resources)
            {
                resource["metadata"]!["name"] = Name(resource) + suffix;
            }
        }

        foreach (var labels in Objects(kustomization["labels"]))
        {
            AddLabels(file, resources, labels);
        }

        foreach (var image in Objects(kustomization["images"]))
        {
            SetImage(file, resources, image);
        }

        return resources;
    }

    /// <summary>Every patch a kustomization applies, inline or from a file, as JSON.</summary>
    public static IEnumerable<JsonObject> Patches(string directory, JsonObject kustomization)
    {
        foreach (var entry in Objects(kustomization["patches"]))
        {
            if (entry.Select(p => p.Key).FirstOrDefault(key => key is not ("path" or "patch")) is { } unsupported)
            {
                throw new NotSupportedException($"patches.{unsupported} (targets, options) is not modelled by the test renderer");
            }

            var text = (string?)entry["path"] is { } path ? File.ReadAllText(Path.Combine(directory, path)) : (string?)entry["patch"]
                ?? throw new InvalidDataException("a patch has neither path nor patch");
            foreach (var document in YamlJson.Documents(text).OfType<JsonObject>())
            {
                yield return document;
            }
        }
    }

    public static string Kind(JsonObject resource) => (string?)resource["kind"] ?? throw new InvalidDataException("a resource has no kind");

    public static string Name(JsonObject resource) => (string?)resource["metadata"]?["name"] ?? throw new InvalidDataException($"a {Kind(resource)} has no name");

    public static string? Namespace(JsonObject resource) => (string?)resource["metadata"]?["namespace"];

    private static void AddLabels(string file, List<JsonObject> resources, JsonObject labels)
    {
        if (labels.Select(p => p.Key).FirstOrDefault(key => key is not ("pairs" or "includeSelectors" or "includeTemplates")) is { } unsupported)
        {
            throw new NotSupportedException($"{file}: labels.{unsupported} is not modelled by the test renderer");
        }

        var pairs = labels["pairs"] as JsonObject ?? throw new InvalidDataException($"{file}: labels without pairs");
        var selectors = (bool?)labels["includeSelectors"] ?? false;
        var templates = (bool?)labels["includeTemplates"] ?? false;
        foreach (var resource in resources)
        {
            Merge(resource, pairs, "metadata", "labels");
            if (!selectors && !templates)
            {
                continue;
            }

            // As kustomize 5 does for a StatefulSet with includeSelectors (checked against kubectl kustomize): the
            // selector, the pod template and every volume claim template. Other combinations are not modelled.
            if (Kind(resource) != "StatefulSet" || !selectors)
            {
                throw new NotSupportedException($"{file}: labels into the selectors or templates of a {Kind(resource)} (includeSelectors {selectors}) are not modelled");
            }

            Merge(resource, pairs, "spec", "selector", "matchLabels");
            Merge(resource, pairs, "spec", "template", "metadata", "labels");
            foreach (var claim in (resource["spec"]?["volumeClaimTemplates"] as JsonArray ?? []).OfType<JsonObject>())
            {
                Merge(claim, pairs, "metadata", "labels");
            }
        }
    }

    private static void SetImage(string file, List<JsonObject> resources, JsonObject image)
    {
        if (image.Select(p => p.Key).FirstOrDefault(key => key is not ("name" or "newName" or "newTag")) is { } unsupported)
        {
            throw new NotSupportedException($"{file}: images.{unsupported} is not modelled by the test renderer");
        }

        var name = (string?)image["name"] ?? throw new InvalidDataException($"{file}: an image without a name");
        var newName = (string?)image["newName"] ?? name;
        var newTag = (string?)image["newTag"];
        foreach (var resource in resources)
        {
            var pod = resource["spec"]?["template"]?["spec"];
            foreach (var container in new[] { pod?["containers"], pod?["initContainers"] }.OfType<JsonArray>().SelectMany(a => a).OfType<JsonObject>())
            {
                var current = (string?)container["image"] ?? "";
                var (currentName, currentTag) = SplitImage(current);
                if (currentName == name)
                {
                    container["image"] = newName + ((newTag ?? currentTag) is { } tag ? ":" + tag : "");
                }
            }
        }
    }

    private static (string Name, string? Tag) SplitImage(string image)
    {
        if (image.Contains('@', StringComparison.Ordinal))
        {
            throw new NotSupportedException($"image digests ({image}) are not modelled by the test renderer");
        }

        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, null);
    }

    private static void Merge(JsonObject resource, JsonObject pairs, params string[] path)
    {
        var node = resource;
        foreach (var step in path)
        {
            if (node[step] is not JsonObject next)
            {
                next = [];
                node[step] = next;
            }

            node = next;
        }

        foreach (var (key, value) in pairs)
        {
            node[key] = value?.DeepClone();
        }
    }

    private static IEnumerable<string> Strings(JsonNode? node) =>
        (node as JsonArray ?? []).Select(n => (string?)n ?? throw new InvalidDataException("a null list entry"));

    private static IEnumerable<JsonObject> Objects(JsonNode? node) =>
        (node as JsonArray ?? []).Select(n => n as JsonObject ?? throw new InvalidDataException("a list entry that is not a mapping"));
}
