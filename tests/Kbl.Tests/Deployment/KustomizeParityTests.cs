using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Kbl.Tests.Deployment;

/// <summary>
/// The test renderer (<see cref="KustomizeBuild"/>) against kustomize itself (<c>kubectl kustomize</c>, installed by
/// scripts/install-test-deps.sh): for every kustomization under k8s/, the same resources with the same content, so what
/// the manifest tests check is what <c>kubectl apply -k</c> would apply (replacements from the generated stack file included).
/// </summary>
public sealed class KustomizeParityTests
{
    public static TheoryData<string> Kustomizations() =>
        [.. Manifests.KustomizationFiles().Select(f => Manifests.Relative(Path.GetDirectoryName(f)!))];

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public async Task The_test_renderer_renders_what_kubectl_kustomize_renders(string directory)
    {
        var ours = KustomizeBuild.Build(Manifests.PathOf(directory)).ToDictionary(Key, Canonical, StringComparer.Ordinal);
        var theirs = YamlJson.Documents(await Kubectl("kustomize", Manifests.PathOf(directory))).OfType<JsonObject>().ToDictionary(Key, Canonical, StringComparer.Ordinal);

        Assert.Equal(theirs.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, rendered) in theirs)
        {
            Assert.True(ours[key] == rendered, $"{directory}: {key} differs\n kubectl: {rendered}\n ours:    {ours[key]}");
        }
    }

    private static string Key(JsonObject resource) =>
        $"{KustomizeBuild.Kind(resource)}/{KustomizeBuild.Namespace(resource)}/{KustomizeBuild.Name(resource)}";

    /// <summary>The resource as JSON with every object's keys sorted (kustomize sorts them; the renderer keeps the files' order).</summary>
    private static string Canonical(JsonObject resource) => Sort(resource)!.ToJsonString();

    private static JsonNode? Sort(JsonNode? node) => node switch
    {
        JsonObject map => new JsonObject(map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sort(p.Value)))),
        JsonArray list => new JsonArray([.. list.Select(Sort)]),
        _ => node?.DeepClone(),
    };

    private static async Task<string> Kubectl(params string[] arguments)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start: run scripts/install-test-deps.sh");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"kubectl {string.Join(' ', arguments)} failed: {await error}");
        return await output;
    }
}
