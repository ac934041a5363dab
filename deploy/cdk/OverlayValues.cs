using System.Text;
using System.Text.Json;

namespace Kbl.Cdk;

/// <summary>
/// The kustomize overlay's one generated file (k8s/overlays/example/stack.env) from the deployed stack's outputs
/// (<c>cdk deploy --outputs-file cdk-outputs.json</c>): one <c>Name=value</c> line per output, and <c>Image</c>, the
/// repository with the tag the image was pushed with. The overlay's replacements copy each value where it belongs, so no
/// account id, ARN or region is typed by hand.
/// </summary>
public static class OverlayValues
{
    public static string FromCdkOutputs(string json, string stackName, string imageTag)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(imageTag);
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty(stackName, out var outputs) || outputs.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"the outputs file has no stack named {stackName} (cdk deploy --outputs-file writes {{\"{stackName}\": {{…}}}})");
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in KblStack.OutputNames)
        {
            values[name] = outputs.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
                ? text
                : throw new InvalidDataException($"stack {stackName} has no output {name}: deploy this version of deploy/cdk");
        }

        var file = new StringBuilder()
            .Append("# Generated from the CDK stack's outputs (docs/deploy-eks.md): do not edit by hand.\n")
            .Append("#   dotnet run --project deploy/cdk -- overlay cdk-outputs.json --image-tag TAG > k8s/overlays/example/stack.env\n");
        foreach (var (name, value) in values)
        {
            file.Append(name).Append('=').Append(value).Append('\n');
        }

        return file.Append("Image=").Append(values["ImageRepository"]).Append(':').Append(imageTag).Append('\n').ToString();
    }
}
