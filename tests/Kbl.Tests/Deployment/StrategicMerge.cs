using System.Text.Json.Nodes;

namespace Kbl.Tests.Deployment;

/// <summary>
/// The part of Kubernetes' strategic merge patch that Kbl's kustomizations use: maps merge key by key, a null
/// deletes a key, and the lists below merge element by element on their patch merge key (as in the Kubernetes API
/// types). A patch that holds any other list, or a <c>$patch</c> directive, is refused rather than guessed at.
/// As kustomize does (checked against <c>kubectl kustomize</c> by <c>KustomizeParityTests</c>), a merged list holds
/// the patch's elements first, in the patch's order (merged into their originals), then the other originals in theirs.
/// </summary>
public static class StrategicMerge
{
    private static readonly Dictionary<string, string> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["env"] = "name",
        ["volumes"] = "name",
        ["volumeMounts"] = "mountPath",
        ["ports"] = "containerPort",
    };

    public static JsonObject Apply(JsonObject target, JsonObject patch) =>
        (JsonObject)Merge(target.DeepClone(), patch, field: "")!;

    private static JsonNode? Merge(JsonNode? target, JsonNode patch, string field)
    {
        switch (patch)
        {
            case JsonObject patchMap:
                // Into nothing (or a scalar), a patch map still goes key by key, so its lists are checked too.
                var map = target as JsonObject ?? [];

                foreach (var (key, value) in patchMap)
                {
                    if (key.StartsWith('$'))
                    {
                        throw new NotSupportedException($"strategic merge directive '{key}' is not modelled by the test renderer");
                    }

                    var existing = map[key];
                    map.Remove(key);
                    if (value is not null)
                    {
                        map[key] = Merge(existing, value, key);
                    }
                }

                return map;

            case JsonArray patchList:
                if (!MergeKeys.TryGetValue(field, out var mergeKey))
                {
                    throw new NotSupportedException(
                        $"a patch replaces or merges the list '{field}' by rules the test renderer does not model; patch only {string.Join(", ", MergeKeys.Keys)}");
                }

                var originals = (target as JsonArray ?? []).Select(item => item?.DeepClone()).ToList();
                var merged = new List<JsonNode?>();
                foreach (var patchItem in patchList.OfType<JsonObject>())
                {
                    var key = patchItem[mergeKey] ?? throw new InvalidDataException($"an element of '{field}' in a patch has no '{mergeKey}'");
                    var index = originals.FindIndex(item => JsonNode.DeepEquals(item?[mergeKey], key));
                    merged.Add(Merge(index >= 0 ? originals[index] : null, patchItem, field));
                    if (index >= 0)
                    {
                        originals.RemoveAt(index);
                    }
                }

                return new JsonArray([.. merged, .. originals]);

            default:
                return patch.DeepClone();
        }
    }
}
