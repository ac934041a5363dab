using Kbl.Configuration;
using Kbl.Silo.Hosting;

WebApplication app;
KblSettings settings;
try
{
    (app, settings) = KblSiloApp.Build(args);
}
catch (KblConfigurationException e)
{
    Console.Error.WriteLine($"kbl: bad configuration: {e.Message}");
    return 2;
}

app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine(
    $"kbl: silo '{settings.Kbl.SiloName}' (node group {settings.Kbl.NodeGroup}) serving HTTP on {string.Join(", ", settings.Urls)}" +
    $" and gRPC on port {settings.Gateway.GrpcPort}; records in {Path.GetFullPath(settings.Kbl.DataPath)}"));
await app.RunAsync();
return 0;
