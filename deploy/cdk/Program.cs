using Amazon.CDK;
using Kbl.Cdk;

// The base infrastructure of a Kbl cluster on AWS as one CDK stack (KblStack), or, with `overlay`, the file the kustomize
// overlay reads from the deployed stack's outputs (OverlayValues).
if (args is ["overlay", var outputs, ..])
{
    try
    {
        var tag = args.SkipWhile(a => a != "--image-tag").Skip(1).FirstOrDefault() ?? "latest";
        Console.Out.Write(OverlayValues.FromCdkOutputs(File.ReadAllText(outputs), KblStack.DefaultStackName, tag));
        return 0;
    }
    catch (Exception e) when (e is IOException or InvalidDataException or System.Text.Json.JsonException)
    {
        Console.Error.WriteLine($"kbl-cdk: {e.Message}");
        return 2;
    }
}

var app = new App();
_ = new KblStack(app, KblStack.DefaultStackName, KblStackSettings.From(app));
app.Synth();
return 0;
