using System.Threading.RateLimiting;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.RateLimiting;

namespace Kbl.Silo.Gateway;

/// <summary>
/// Back-pressure at the gateway, with ASP.NET Core's rate limiter: at most <c>Kbl:Gateway:MaxConcurrentRequests</c>
/// API requests (HTTP <c>/v1</c> and gRPC) in progress on this silo, <c>MaxQueuedRequests</c> more waiting; beyond
/// that a saturated silo refuses at once — HTTP 429 with <c>Retry-After</c>, gRPC <c>RESOURCE_EXHAUSTED</c>, each with
/// a message — instead of letting requests pile up into timeouts. Health, readiness and metrics are not limited.
/// Per-colony quotas are <see cref="ColonyQuotas"/>.
/// </summary>
public static class GatewayRateLimiting
{
    /// <summary>The policy the API endpoints carry.</summary>
    public const string Policy = "kbl-gateway";

    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    public static IServiceCollection AddKblRateLimiting(this IServiceCollection services, KblGatewayOptions options)
    {
        services.AddSingleton<ColonyQuotas>();
        return services.AddRateLimiter(limiter =>
        {
            // One partition: the whole gateway shares the permits.
            limiter.AddPolicy(Policy, _ => options.MaxConcurrentRequests == 0
                ? RateLimitPartition.GetNoLimiter("gateway")
                : RateLimitPartition.GetConcurrencyLimiter("gateway", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = options.MaxConcurrentRequests,
                    QueueLimit = options.MaxQueuedRequests,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                }));
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.OnRejected = (context, _) => Refuse(
                context.HttpContext,
                $"this silo is serving as many requests as it takes at once ({options.MaxConcurrentRequests}, Kbl:Gateway:MaxConcurrentRequests); retry in {RetryAfter.TotalSeconds:0} s");
        });
    }

    /// <summary>
    /// Refuses a request for lack of capacity: a gRPC call gets a trailers-only answer with <c>RESOURCE_EXHAUSTED</c>
    /// and the message; anything else 429 with <c>Retry-After</c> and <c>{"error": message}</c>.
    /// </summary>
    private static ValueTask Refuse(HttpContext http, string message)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null)
        {
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/grpc";
            http.Response.Headers["grpc-status"] = "8"; // RESOURCE_EXHAUSTED
            http.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            return ValueTask.CompletedTask;
        }

        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = ((int)RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return new ValueTask(http.Response.WriteAsJsonAsync(new { error = message }));
    }
}
