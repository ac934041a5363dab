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
try
{
    await DependencyCheck.RunAsync(app.Services, settings, app.Lifetime.ApplicationStopping);
    await app.StartAsync();
}
catch (Exception e) when (StartupFailure.MissingDependency(e, settings) is { } missing)
{
    Console.Error.WriteLine($"kbl: missing dependency: {missing}");
    return KblDependencyException.ExitCode;
}

await app.WaitForShutdownAsync();
await app.DisposeAsync();
return 0;
