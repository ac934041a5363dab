using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Kbl.Tests.Deployment;

/// <summary>
/// Renders a kustomization with the real tool, <c>kubectl kustomize</c> (kustomize 5.x, preinstalled on this kind
/// of machine; scripts/install-test-deps.sh checks for it), so the tests check exactly what <c>kubectl apply -k</c>
/// would apply.
/// </summary>
public static class Kustomize
{
    public const string FileName = "kustomization.yaml";

    public static IReadOnlyList<JsonObject> Render(string directory)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("kustomize");
        start.ArgumentList.Add(directory);
        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            process.Kill();
            throw new TimeoutException($"kubectl kustomize {directory} did not finish within a minute");
        }

        return process.ExitCode == 0
            ? [.. YamlJson.Documents(output.Result).OfType<JsonObject>()]
            : throw new InvalidDataException($"kubectl kustomize {directory} failed ({process.ExitCode}): {error.Result.Trim()}");
    }
}
