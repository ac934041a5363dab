using System.Text.Json.Nodes;

namespace Kbl.Tests.Deployment;

/// <summary>
/// Renders a kustomization the way <c>kubectl kustomize</c> does, for the features Kbl's kustomizations use, so
/// the tests check what would be applied without kubectl (not installed on every machine). The features, in
/// kustomize's order: <c>resources</c> (files and directories), <c>configMapGenerator</c> (<c>envs</c> files, with
/// <c>options.disableNameSuffixHash</c> and <c>options.annotations</c>), <c>patches</c> (strategic merge, by
/// <see cref="StrategicMerge"/>), <c>nameSuffix</c>, <c>labels</c>, <c>images</c>, <c>replacements</c> (a source field
/// copied whole into target fields, <c>options.create</c>); resources annotated
/// <c>config.kubernetes.io/local-config: "true"</c> are dropped from the output. Anything else in a kustomization fails
/// the build, so the renderer cannot silently diverge from kustomize; <c>KustomizeParityTests</c> compares it with
/// <c>kubectl kustomize</c> itself.
/// </summary>
public static class KustomizeBuild
{
    public const string FileName = "kustomization.yaml";

    private const string LocalConfig = "config.kubernetes.io/local-config";

    private static readonly HashSet<string> Supported = ["apiVersion", "kind", "resources", "configMapGenerator", "patches", "nameSuffix", "labels", "images", "replacements"];

    public static List<JsonObject> Build(string directory) =>
        [.. BuildWithLocal(directory).Where(r => (string?)r["metadata"]?["annotations"]?[LocalConfig] != "true")];

    private static List<JsonObject> BuildWithLocal(string directory)
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
                resources.AddRange(BuildWithLocal(path));
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

        foreach (var generator in Objects(kustomization["configMapGenerator"]))
        {
            resources.Add(ConfigMap(file, directory, generator));
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

        foreach (var replacement in Objects(kustomization["replacements"]))
        {
            Replace(file, resources, replacement);
        }

        return resources;
    }

    /// <summary>A ConfigMap from <c>envs</c> files (<c>KEY=VALUE</c> lines; blank lines and <c># comments</c> skipped).</summary>
    private static JsonObject ConfigMap(string file, string directory, JsonObject generator)
    {
        if (generator.Select(p => p.Key).FirstOrDefault(key => key is not ("name" or "namespace" or "envs" or "options")) is { } unsupported)
        {
            throw new NotSupportedException($"{file}: configMapGenerator.{unsupported} is not modelled by the test renderer");
        }

        var options = generator["options"] as JsonObject ?? [];
        if (options.Select(p => p.Key).Any(key => key is not ("disableNameSuffixHash" or "annotations")) || (bool?)options["disableNameSuffixHash"] != true)
        {
            throw new NotSupportedException($"{file}: configMapGenerator options other than disableNameSuffixHash: true and annotations are not modelled (a name hash would need kustomize's name references)");
        }

        var data = new JsonObject();
        foreach (var env in Strings(generator["envs"]))
        {
            foreach (var line in File.ReadAllLines(Path.Combine(directory, env)).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')))
            {
                var equals = line.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    throw new InvalidDataException($"{env}: '{line}' is not KEY=VALUE");
                }

                data[line[..equals]] = line[(equals + 1)..];
            }
        }

        var metadata = new JsonObject { ["name"] = (string?)generator["name"] ?? throw new InvalidDataException($"{file}: a configMapGenerator without a name") };
        if ((string?)generator["namespace"] is { } ns)
        {
            metadata["namespace"] = ns;
        }

        if (options["annotations"] is JsonObject annotations)
        {
            metadata["annotations"] = annotations.DeepClone();
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = metadata, ["data"] = data };
    }

    /// <summary>A replacement: the source field's value into every target field (which must exist, unless <c>options.create</c>).</summary>
    private static void Replace(string file, List<JsonObject> resources, JsonObject replacement)
    {
        if (replacement.Select(p => p.Key).FirstOrDefault(key => key is not ("source" or "targets")) is { } unsupported)
        {
            throw new NotSupportedException($"{file}: replacements.{unsupported} is not modelled by the test renderer");
        }

        var source = replacement["source"] as JsonObject ?? throw new InvalidDataException($"{file}: a replacement without a source");
        if (source.Select(p => p.Key).FirstOrDefault(key => key is not ("kind" or "name" or "fieldPath")) is { } sourceKey)
        {
            throw new NotSupportedException($"{file}: replacement source.{sourceKey} is not modelled by the test renderer");
        }

        var from = Selected(resources, source).ToList();
        if (from.Count != 1)
        {
            throw new InvalidDataException($"{file}: a replacement source ({source.ToJsonString()}) matches {from.Count} resources");
        }

        var value = Field(from[0], (string)source["fieldPath"]!, create: false)?.Get()
            ?? throw new InvalidDataException($"{file}: the replacement source {source.ToJsonString()} has no such field");
        foreach (var target in Objects(replacement["targets"]))
        {
            if (target.Select(p => p.Key).FirstOrDefault(key => key is not ("select" or "fieldPaths" or "options")) is { } targetKey ||
                (target["options"] as JsonObject ?? []).Select(p => p.Key).FirstOrDefault(key => key != "create") is { } targetOption)
            {
                throw new NotSupportedException($"{file}: replacement targets with other than select, fieldPaths and options.create are not modelled");
            }

            var create = (bool?)target["options"]?["create"] ?? false;
            var selected = Selected(resources, target["select"] as JsonObject ?? []).ToList();
            if (selected.Count == 0)
            {
                throw new InvalidDataException($"{file}: a replacement target ({target["select"]?.ToJsonString()}) matches no resource");
            }

            foreach (var resource in selected)
            {
                foreach (var path in Strings(target["fieldPaths"]))
                {
                    var field = Field(resource, path, create)
                        ?? throw new InvalidDataException($"{file}: {Kind(resource)} {Name(resource)} has no field {path} to replace");
                    field.Set(value.DeepClone());
                }
            }
        }
    }

    private static IEnumerable<JsonObject> Selected(List<JsonObject> resources, JsonObject select)
    {
        if (select.Select(p => p.Key).FirstOrDefault(key => key is not ("kind" or "name" or "fieldPath")) is { } unsupported)
        {
            throw new NotSupportedException($"replacement select.{unsupported} is not modelled by the test renderer");
        }

        return resources.Where(r => ((string?)select["kind"] is not { } kind || Kind(r) == kind) && ((string?)select["name"] is not { } name || Name(r) == name));
    }

    /// <summary>
    /// A field by kustomize's path syntax: <c>a.b</c>, <c>[key.with.dots]</c>, and <c>[name=value]</c> for the list item
    /// whose <c>name</c> is <c>value</c>. Null when it is missing and <paramref name="create"/> is off.
    /// </summary>
    private static FieldRef? Field(JsonObject resource, string path, bool create)
    {
        var steps = PathSteps(path);
        JsonNode node = resource;
        for (var i = 0; i < steps.Count; i++)
        {
            var step = steps[i];
            var last = i == steps.Count - 1;
            if (step.Contains('=', StringComparison.Ordinal))
            {
                var (key, wanted) = (step[..step.IndexOf('=', StringComparison.Ordinal)], step[(step.IndexOf('=', StringComparison.Ordinal) + 1)..]);
                var item = (node as JsonArray ?? []).OfType<JsonObject>().FirstOrDefault(o => (string?)o[key] == wanted);
                if (item is null || last)
                {
                    return null; // kustomize does not create list items
                }

                node = item;
                continue;
            }

            if (node is not JsonObject map)
            {
                return null;
            }

            if (last)
            {
                return map.ContainsKey(step) || create ? new FieldRef(map, step) : null;
            }

            if (map[step] is not { } next)
            {
                if (!create)
                {
                    return null;
                }

                next = steps[i + 1].Contains('=', StringComparison.Ordinal) ? new JsonArray() : new JsonObject();
                map[step] = next;
            }

            node = next;
        }

        return null;
    }

    private static List<string> PathSteps(string path)
    {
        var steps = new List<string>();
        var current = new System.Text.StringBuilder();
        var inBrackets = false;
        foreach (var c in path)
        {
            switch (c)
            {
                case '[':
                    inBrackets = true;
                    break;
                case ']':
                    inBrackets = false;
                    break;
                case '.' when !inBrackets:
                    steps.Add(current.ToString());
                    current.Clear();
                    break;
                default:
                    current.Append(c);
                    break;
            }
        }

        steps.Add(current.ToString());
        return [.. steps.Where(s => s.Length > 0)];
    }

    private sealed record FieldRef(JsonObject Parent, string Key)
    {
        public JsonNode? Get() => Parent[Key];

        public void Set(JsonNode? value) => Parent[Key] = value;
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
