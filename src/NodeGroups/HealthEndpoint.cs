using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups;

/// <summary>
/// The Provisioner's liveness endpoint, <c>GET /healthz</c> on <see cref="ProvisioningOptions.HealthPort"/>: 200 while the
/// reconciler made progress within <see cref="ProvisioningOptions.StallTimeout"/>, 503 after (the probe then restarts the
/// pod). The body says when it last moved. A plain <see cref="HttpListener"/>: the Provisioner is a worker, not a web app.
/// </summary>
public sealed partial class HealthEndpoint(ReconcilerProgress progress, ProvisioningOptions options, ILogger<HealthEndpoint> logger) : BackgroundService
{
    /// <summary>The path the probe calls.</summary>
    public const string Path = "/healthz";

    /// <summary>Whether the reconciler counts as alive now.</summary>
    public bool Healthy => progress.Silence <= options.StallTimeout;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.HealthPort == 0)
        {
            return;
        }

        using var listener = new HttpListener();
        listener.Prefixes.Add(string.Create(CultureInfo.InvariantCulture, $"http://+:{options.HealthPort}/"));
        listener.Start();
        LogListening(logger, options.HealthPort);
        using var stop = stoppingToken.Register(listener.Stop);
        while (!stoppingToken.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            try
            {
                Answer(context);
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The prober went away mid-answer.
            }
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var response = context.Response;
        string body;
        if (context.Request.HttpMethod is not ("GET" or "HEAD") || context.Request.Url?.AbsolutePath != Path)
        {
            response.StatusCode = 404;
            body = "{\"error\":\"not found\"}";
        }
        else
        {
            var healthy = Healthy;
            response.StatusCode = healthy ? 200 : 503;
            body = string.Create(CultureInfo.InvariantCulture,
                $"{{\"status\":\"{(healthy ? "progressing" : "stalled")}\",\"lastProgress\":\"{progress.Last:O}\",\"silenceSeconds\":{Math.Round(progress.Silence.TotalSeconds, 1)},\"stallTimeoutSeconds\":{options.StallTimeout.TotalSeconds}}}");
            if (!healthy)
            {
                LogStalled(logger, progress.Last, options.StallTimeout);
            }
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        response.OutputStream.Write(bytes);
        response.Close();
    }

    [LoggerMessage(EventId = 43200, Level = LogLevel.Information, Message = "Liveness endpoint on port {Port} (GET /healthz)")]
    private static partial void LogListening(ILogger logger, int port);

    [LoggerMessage(EventId = 43201, Level = LogLevel.Error, Message = "The reconciler made no progress since {Last} (more than {StallTimeout}): liveness fails so Kubernetes restarts the Provisioner")]
    private static partial void LogStalled(ILogger logger, DateTimeOffset last, TimeSpan stallTimeout);
}
