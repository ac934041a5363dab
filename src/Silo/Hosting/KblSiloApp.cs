using Kbl.Configuration;
using Kbl.Silo.NodeGroups;

namespace Kbl.Silo.Hosting;

/// <summary>The silo as <c>Program</c> runs it, built in one place so tests can look at the real thing (its settings, its endpoints).</summary>
public static class KblSiloApp
{
    /// <summary>
    /// Orleans, telemetry, the gateway and provisioning, with every endpoint mapped; nothing started. Throws
    /// <see cref="KblConfigurationException"/> for a bad or unknown setting.
    /// </summary>
    public static (WebApplication App, KblSettings Settings) Build(string[] args)
    {
        // appsettings.json ships beside the binary; relative data paths still resolve against the working directory.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var settings = builder.AddKblSilo();
        builder.AddKblTelemetry(settings);
        builder.AddKblGateway(settings);
        builder.AddKblProvisioning(settings, args);
        var app = builder.Build();
        app.MapKblGateway();
        return (app, settings);
    }
}
