using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Gateway;

/// <summary>
/// Per-colony request quotas on this gateway (<c>Kbl:Gateway:ColonyRequestsPerSecond</c>, <c>Kbl:Gateway:ColonyQuotas</c>):
/// a token bucket per colony holding a second's worth of requests. HTTP and gRPC requests take from the same bucket;
/// a request over quota is refused with 429 / <c>RESOURCE_EXHAUSTED</c>, a message and when to retry.
/// </summary>
public sealed class ColonyQuotas : IDisposable
{
    /// <summary>The finest step a bucket refills in: a faster refill timer would cost more than it measures.</summary>
    private static readonly TimeSpan MinRefill = TimeSpan.FromMilliseconds(50);

    private readonly KblGatewayOptions _options;
    private readonly PartitionedRateLimiter<string>? _limiter;

    public ColonyQuotas(IOptions<KblGatewayOptions> options)
    {
        _options = options.Value;
        if (_options.ColonyRequestsPerSecond > 0 || _options.ColonyQuotas.Values.Any(q => q > 0))
        {
            _limiter = PartitionedRateLimiter.Create<string, string>(colony => QuotaOf(colony) is > 0 and var rate
                ? RateLimitPartition.GetTokenBucketLimiter(colony, _ => Bucket(rate))
                : RateLimitPartition.GetNoLimiter(colony));
        }
    }

    /// <summary>The quota of <paramref name="colony"/> in requests per second; 0: none.</summary>
    public int QuotaOf(string colony) => _options.ColonyQuotas.TryGetValue(colony, out var rate) ? rate : _options.ColonyRequestsPerSecond;

    /// <summary>
    /// Takes <paramref name="requests"/> requests from <paramref name="colony"/>'s quota (a batch counts one per
    /// record), or refuses the request. A batch of more records than a second's worth of the quota could never be
    /// admitted: it is refused as too large, saying how many records a batch may carry.
    /// </summary>
    /// <exception cref="ApiException">the colony is over its quota (<see cref="ApiError.TooManyRequests"/>), or the batch is larger than it (<see cref="ApiError.TooLarge"/>).</exception>
    public void Take(string colony, int requests = 1)
    {
        var quota = QuotaOf(colony);
        if (_limiter is null || quota <= 0)
        {
            return;
        }

        if (requests > quota)
        {
            throw new ApiException(ApiError.TooLarge, $"a batch of {requests} records is more than colony '{colony}''s quota of {quota} requests per second on this gateway; send at most {quota} records a batch");
        }

        using var lease = _limiter.AttemptAcquire(colony, requests);
        if (lease.IsAcquired)
        {
            return;
        }

        var after = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds));
        throw new ApiException(ApiError.TooManyRequests, $"colony '{colony}' is over its quota of {QuotaOf(colony)} requests per second on this gateway; retry in {seconds} s")
        {
            RetryAfter = TimeSpan.FromSeconds(seconds),
        };
    }

    public void Dispose() => _limiter?.Dispose();

    /// <summary>A bucket of a second's worth of requests, refilled in steps of at least <see cref="MinRefill"/>.</summary>
    private static TokenBucketRateLimiterOptions Bucket(int rate)
    {
        var tokensPerStep = Math.Max(1, (int)Math.Ceiling(rate * MinRefill.TotalSeconds));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = rate,
            TokensPerPeriod = tokensPerStep,
            ReplenishmentPeriod = TimeSpan.FromSeconds((double)tokensPerStep / rate),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }
}
