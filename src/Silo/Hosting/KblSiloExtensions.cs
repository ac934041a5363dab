using System.Net;
using Kbl.Hosting;
using Kbl.Silo.Routing;
using Kbl.Silo.Gateway;
using Kbl.Storage;
using Kbl.Telemetry;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Orleans.Configuration;
using Orleans.Dashboard;

namespace Kbl.Silo.Hosting;

public static class KblSiloExtensions
{
    /// <summary>
    /// The silo: Orleans with localhost clustering (processes on one machine, membership kept by the primary) or
    /// Redis clustering (any silo may die; AUTH and TLS from its connection string), Kubernetes hosting when in a pod,
    /// TLS between silos when configured, the metadata storage, the KBL grains and the Orleans dashboard.
    /// </summary>
    public static KblSettings AddKblSilo(this WebApplicationBuilder builder)
    {
        var settings = KblSettings.Load(builder.Configuration);
        var cluster = settings.Cluster;
        builder.UseOrleans(silo =>
        {
            if (cluster.Mode == ClusterMode.Redis)
            {
                silo.UseRedisClustering(o => o.ConfigurationOptions = RedisConnection.Options(cluster));
                silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (cluster.ClusterId, cluster.ServiceId));
                if (!settings.Kubernetes)
                {
                    silo.ConfigureEndpoints(IPAddress.Parse(cluster.AdvertisedAddress), cluster.SiloPort, cluster.GatewayPort);
                }

                // Failure detection: a silo that misses MissedProbesLimit probes in a row is voted dead (probes adapt
                // between half and four times ProbeTimeout; see KblClusterOptions.ProbeTimeout).
                silo.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = cluster.ProbeTimeout;
                    o.NumMissedProbesLimit = cluster.MissedProbesLimit;
                });
            }
            else
            {
                var primary = new IPEndPoint(IPAddress.Loopback, cluster.PrimaryPort);
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, primary, cluster.ServiceId, cluster.ClusterId);
            }

            if (settings.Kubernetes)
            {
                silo.UseKubernetesHosting();
            }

            // Mutual TLS on the silo and client gateway ports when Kbl:Cluster:Tls names a certificate.
            SiloTls.Configure(silo, cluster.Tls);

            silo.Configure<SiloOptions>(o => o.SiloName = settings.Kbl.SiloName);
            if (settings.Storage.Mode == StorageMode.DynamoDb)
            {
                var dynamo = settings.DynamoDb;
                silo.Services.AddDynamoDbGrainStorage(KblStorage.Name, o =>
                    (o.ServiceUrl, o.Region, o.TableName, o.CreateTable) = (dynamo.ServiceUrl, dynamo.Region, dynamo.TableName, dynamo.CreateTable));
            }
            else
            {
                silo.Services.AddSqliteGrainStorage(KblStorage.Name, o => (o.Path, o.SyncWrites) = (settings.Sqlite.Path, settings.Kbl.SyncWrites));
            }
            silo.AddKblGrains(settings.Kbl, settings.Placement, settings.ColdTier);
            silo.AddDashboard();
            if (settings.Telemetry.OtlpEndpoint.Length > 0)
            {
                silo.AddActivityPropagation(); // grain calls carry the trace only where traces are recorded (AddKblTelemetry)
            }
        });
        // A stopping silo first hands its KBLs to the rest of its node group: give it the time to.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.Placement.DrainTimeout + TimeSpan.FromSeconds(30));
        return settings;
    }

    /// <summary>
    /// OpenTelemetry: Orleans' meter, ASP.NET Core's request and connection meters (HTTP and gRPC), Kbl's own meter;
    /// Prometheus at <c>/metrics</c>. Traces (Orleans' and Kbl's activity sources, ASP.NET Core requests) and OTLP
    /// only when <c>Kbl:Telemetry:OtlpEndpoint</c> is set: recorded traces nobody exports cost every request (with the
    /// routing, rate-limiting and memory-pool meters, about a tenth of a GET's CPU — docs/benchmarks.md), so neither
    /// is on without a reason.
    /// </summary>
    public static void AddKblTelemetry(this WebApplicationBuilder builder, KblSettings settings)
    {
        var telemetry = settings.Telemetry;
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("kbl", serviceInstanceId: settings.Kbl.SiloName)
                .AddAttributes([new("kbl.node_group", settings.Kbl.NodeGroup), new("kbl.zone", settings.Kbl.Zone)]))
            .WithMetrics(metrics =>
            {
                // http.server.request.duration and Kestrel's connections; not the per-request routing, rate-limiting
                // and memory-pool meters AddAspNetCoreInstrumentation would add.
                metrics.AddMeter("Microsoft.Orleans", KblMetrics.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel");
                if (telemetry.Prometheus)
                {
                    metrics.AddPrometheusExporter();
                }

                if (telemetry.OtlpEndpoint.Length > 0)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = new Uri(telemetry.OtlpEndpoint));
                }
            });
        if (telemetry.OtlpEndpoint.Length > 0)
        {
            otel.WithTracing(tracing => tracing
                .AddSource("Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", KblMetrics.ActivitySourceName)
                .AddAspNetCoreInstrumentation()
                .AddOtlpExporter(o => o.Endpoint = new Uri(telemetry.OtlpEndpoint)));
        }
    }

    /// <summary>The gateway: HTTP/1.1 on <c>--urls</c>, gRPC (h2c) on <c>Kbl:Gateway:GrpcPort</c>, health endpoints.</summary>
    public static void AddKblGateway(this WebApplicationBuilder builder, KblSettings settings)
    {
        builder.Services.AddSingleton(Options.Create(settings.Gateway));
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(settings.Auth);
        // ASP.NET Core's request log ("Request starting …") writes whole URLs at Information, and a browser opens
        // /ui and /dashboard with ?token=: keep that category at Warning so the token never reaches a log.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Services.AddKblRateLimiting(settings.Gateway);
        builder.Services.AddSingleton<ColonyRouter>();
        builder.Services.AddSingleton<ColonyGateway>();
        builder.Services.AddSingleton<ClusterGateway>();
        builder.Services.AddGrpc(o =>
        {
            // A value, or a batch message (its records' keys and values, plus their framing).
            o.MaxReceiveMessageSize = Math.Max(settings.Gateway.MaxValueBytes, settings.Gateway.MaxBatchBytes + (48 * settings.Gateway.MaxBatchRecords)) + (64 * 1024);

            // The colony a gRPC request names is inside its message: checked there against the caller's grants.
            o.Interceptors.Add<ColonyGrantInterceptor>();
        });

        // JWT bearer tokens beside the static one (Kbl:Auth:Jwt); BearerTokenMiddleware is still the one door.
        builder.Services.AddKblJwt(settings.Auth);
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
        app.UseKblStatusCodeReasons();
        app.UseMiddleware<BearerTokenMiddleware>();
        app.UseRateLimiter();
        app.MapGrpcService<KblGrpcService>().RequireHost($"*:{grpcPort}").RequireRateLimiting(GatewayRateLimiting.Policy);
        app.MapKblHttpApi();
        app.MapKblHealth();
        app.MapKblTreeView();
        app.MapOrleansDashboard(routePrefix: "/dashboard").WithMetadata(BrowserEntry.Instance, ClusterAdmin.Instance);
        if (app.Services.GetRequiredService<KblSettings>().Telemetry.Prometheus)
        {
            app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
        }

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
