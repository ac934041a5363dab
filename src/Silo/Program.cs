using Kbl.Silo.Hosting;

// appsettings.json ships beside the binary; relative data paths still resolve against the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
KblSettings settings;
try
{
    settings = builder.AddKblSilo();
}
catch (KblConfigurationException e)
{
    Console.Error.WriteLine($"kbl: bad configuration: {e.Message}");
    return 2;
}

builder.AddKblTelemetry(settings);
builder.AddKblGateway(settings);
builder.AddKblProvisioning(settings, args);
var app = builder.Build();
app.MapKblGateway();
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine(
    $"kbl: silo '{settings.Kbl.SiloName}' (node group {settings.Kbl.NodeGroup}) serving HTTP on {string.Join(", ", settings.Urls)}" +
    $" and gRPC on port {settings.Gateway.GrpcPort}; records in {Path.GetFullPath(settings.Kbl.DataPath)}"));
await app.RunAsync();
return 0;
