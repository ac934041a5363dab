using System.Net;
using Kbl.Hosting;

using Kbl.Routing;
using Kbl.Silo.Gateway;
using Kbl.Storage;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

public static class KblSiloExtensions
{
    /// <summary>
    /// The silo: Orleans with localhost clustering (several processes on one machine form one cluster through a
    /// primary silo), SQLite grain storage shared by all of them, and the KBL grains.
    /// </summary>
    public static KblSettings AddKblSilo(this WebApplicationBuilder builder)
    {
        var settings = KblSettings.Load(builder.Configuration);
        var cluster = settings.Cluster;
        builder.UseOrleans(silo =>
        {
            var primary = new IPEndPoint(IPAddress.Loopback, cluster.PrimarySiloPort == 0 ? cluster.SiloPort : cluster.PrimarySiloPort);
            silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, primary, cluster.ServiceId, cluster.ClusterId);
            silo.Configure<Orleans.Configuration.SiloOptions>(o => o.SiloName = settings.Kbl.SiloName);
            silo.Services.AddSqliteGrainStorage(KblStorage.Name, o => o.Path = settings.Sqlite.Path);
            silo.AddKblGrains(settings.Kbl, settings.Placement);
        });
        // A stopping silo first hands its KBLs to the rest of its node group: give it the time to.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Placement.DrainTimeout + TimeSpan.FromSeconds(30));
        return settings;
    }

    /// <summary>The gateway: HTTP/1.1 on <c>--urls</c>, gRPC (h2c) on <c>Kbl:Gateway:GrpcPort</c>, health endpoints.</summary>
    public static void AddKblGateway(this WebApplicationBuilder builder, KblSettings settings)
    {
        builder.Services.AddOptions<KblGatewayOptions>().Configure(o =>
        {
            o.GrpcPort = settings.Gateway.GrpcPort;
            o.MaxValueBytes = settings.Gateway.MaxValueBytes;
            o.MaxScanPage = settings.Gateway.MaxScanPage;
        });
        builder.Services.AddSingleton<ColonyRouter>();
        builder.Services.AddSingleton<ColonyGateway>();
        builder.Services.AddSingleton<ClusterGateway>();
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = settings.Gateway.MaxValueBytes + (64 * 1024));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // A safety net only: the gateway measures bodies itself and answers 413 (HTTP) or RESOURCE_EXHAUSTED (gRPC) with a message.
            kestrel.Limits.MaxRequestBodySize = settings.Gateway.MaxValueBytes + (256 * 1024);
            foreach (var url in settings.Urls)
            {
                Listen(kestrel, url.Host, url.Port, HttpProtocols.Http1);
            }

            Listen(kestrel, settings.Urls[0].Host, settings.Gateway.GrpcPort, HttpProtocols.Http2);
        });
    }

    public static WebApplication MapKblGateway(this WebApplication app)
    {
        var grpcPort = app.Services.GetRequiredService<IOptions<KblGatewayOptions>>().Value.GrpcPort;
        app.MapGrpcService<KblGrpcService>().RequireHost($"*:{grpcPort}");
        app.MapKblHttpApi();
        app.MapKblHealth();
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, string host, int port, HttpProtocols protocols)
    {
        if (host == "localhost")
        {
            kestrel.ListenLocalhost(port, o => o.Protocols = protocols);
        }
        else
        {
            kestrel.Listen(IPAddress.Parse(host.Trim('[', ']')), port, o => o.Protocols = protocols);
        }
    }
}
