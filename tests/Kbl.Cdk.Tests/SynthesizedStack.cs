using System.Text.Json.Nodes;
using Amazon.CDK;
using Amazon.CDK.Assertions;

namespace Kbl.Cdk.Tests;

/// <summary>
/// The stack synthesized once for a test class (jsii starts a node process and synthesis takes seconds): its template as
/// <see cref="Amazon.CDK.Assertions.Template"/> for the CDK's own assertions, and as JSON for the checks they cannot say.
/// </summary>
public sealed class SynthesizedStack : IDisposable
{
    private readonly string _outdir = Path.Combine(Path.GetTempPath(), "kbl-cdk-" + Guid.NewGuid().ToString("N")[..8]);

    public SynthesizedStack()
    {
        // jsii unpacks the CDK's JavaScript (~140 MB) into this cache once per machine, not into the home directory.
        System.Environment.SetEnvironmentVariable("JSII_RUNTIME_PACKAGE_CACHE_ROOT", Path.Combine(Path.GetTempPath(), "kbl-jsii-cache"));
        System.Environment.SetEnvironmentVariable("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1");
        var app = new App(new AppProps { Outdir = _outdir });
        _ = new KblStack(app, KblStack.DefaultStackName, new KblStackSettings());
        var assembly = app.Synth();
        var text = File.ReadAllText(assembly.GetStackByName(KblStack.DefaultStackName).TemplateFullPath);
        Template = Template.FromString(text);
        Json = JsonNode.Parse(text)!.AsObject();
    }

    public Template Template { get; }

    public JsonObject Json { get; }

    public JsonObject Resources => Json["Resources"]!.AsObject();

    /// <summary>The resources of <paramref name="type"/>, by logical id.</summary>
    public IReadOnlyList<(string Id, JsonObject Resource)> Of(string type) =>
        [.. Resources.Where(r => (string?)r.Value!["Type"] == type).Select(r => (r.Key, r.Value!.AsObject()))];

    /// <summary>The one resource of <paramref name="type"/> whose logical id starts with <paramref name="prefix"/>.</summary>
    public (string Id, JsonObject Resource) Single(string type, string prefix) =>
        Assert.Single(Of(type), r => r.Id.StartsWith(prefix, StringComparison.Ordinal));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_outdir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
