using Kbl.Configuration;
using Kbl.Silo.Gateway;
using Kbl.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Kbl.Tests.Configuration;

/// <summary>
/// The gateway's bounds as settings: defaults that leave the quick start and the benchmarks alone, per-colony quotas
/// read from <c>Kbl:Gateway:ColonyQuotas:{colony}</c>, and bad values refused with one line naming the setting.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class GatewayBoundsSettingsTests
{
    [Fact]
    public void The_defaults_bound_pages_by_4_MiB_and_throttle_no_colony()
    {
        var settings = Load();
        Assert.Equal(4 * 1024 * 1024, settings.Gateway.MaxScanPageBytes);
        Assert.Equal(100_000, settings.Gateway.MaxScanStream);
        Assert.Equal(1000, settings.Gateway.MaxConcurrentRequests);
        Assert.Equal(0, settings.Gateway.ColonyRequestsPerSecond);
        Assert.Empty(settings.Gateway.ColonyQuotas);
        Assert.Equal(4096, settings.Kbl.AggregatePageRecords);
        Assert.Equal(32L << 20, settings.Kbl.RebuildBytesPerSecond);
        Assert.Equal(2, settings.Kbl.RebuildStreams);
        Assert.Equal(TimeSpan.FromMinutes(10), settings.Kbl.StrayCopySweepPeriod);

        using var quotas = new ColonyQuotas(Options.Create(settings.Gateway));
        for (var i = 0; i < 10_000; i++)
        {
            quotas.Take("bench");
        }
    }

    [Fact]
    public void A_colony_quota_overrides_the_default_and_refuses_the_request_beyond_it()
    {
        var settings = Load(("Gateway:ColonyRequestsPerSecond", "1"), ("Gateway:ColonyQuotas:orders", "3"), ("Gateway:ColonyQuotas:logs", "0"));
        using var quotas = new ColonyQuotas(Options.Create(settings.Gateway));
        Assert.Equal(3, quotas.QuotaOf("orders"));
        Assert.Equal(1, quotas.QuotaOf("anything"));

        // A bucket holds a second's worth: 3 for orders, 1 for any other colony, none for logs (no quota).
        for (var i = 0; i < 3; i++)
        {
            quotas.Take("orders");
        }

        var refused = Assert.Throws<ApiException>(() => quotas.Take("orders"));
        Assert.Equal(ApiError.TooManyRequests, refused.Kind);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        Assert.Contains("colony 'orders' is over its quota of 3 requests per second", refused.Message, StringComparison.Ordinal);
        quotas.Take("other");
        Assert.Throws<ApiException>(() => quotas.Take("other"));
        for (var i = 0; i < 1000; i++)
        {
            quotas.Take("logs");
        }
    }

    [Fact]
    public void A_batch_takes_a_request_per_record_and_one_larger_than_the_quota_is_refused_as_too_large()
    {
        var settings = Load(("Gateway:ColonyQuotas:orders", "10"));
        using var quotas = new ColonyQuotas(Options.Create(settings.Gateway));
        var tooLarge = Assert.Throws<ApiException>(() => quotas.Take("orders", 11));
        Assert.Equal(ApiError.TooLarge, tooLarge.Kind);
        Assert.Contains("send at most 10 records a batch", tooLarge.Message, StringComparison.Ordinal);

        quotas.Take("orders", 8); // the refused batch took nothing: 10 were left
        quotas.Take("orders", 2);
        Assert.Equal(ApiError.TooManyRequests, Assert.Throws<ApiException>(() => quotas.Take("orders")).Kind);
        quotas.Take("unlimited", 100_000);
    }

    [Theory]
    [InlineData("Gateway:MaxScanPageBytes", "100", "Kbl:Gateway:MaxScanPageBytes 100 must be between 1024 and 67108864")]
    [InlineData("Gateway:MaxScanStream", "0", "Kbl:Gateway:MaxScanStream 0 must be between 1 and 100000000")]
    [InlineData("Gateway:MaxConcurrentRequests", "-5", "Kbl:Gateway:MaxConcurrentRequests -5 must be between 0 (no limit) and 1000000")]
    [InlineData("Gateway:ColonyRequestsPerSecond", "-1", "Kbl:Gateway:ColonyRequestsPerSecond -1 must be between 0 (no quota) and 10000000")]
    [InlineData("Gateway:ColonyQuotas:Orders", "5", "Kbl:Gateway:ColonyQuotas:Orders must name a colony: 1 to 63 characters a-z, 0-9 and '-'")]
    [InlineData("Gateway:ColonyQuotas:orders", "-2", "Kbl:Gateway:ColonyQuotas:orders -2 must be between 0 (no quota) and 10000000 requests per second")]
    [InlineData("AggregatePageRecords", "0", "Kbl:AggregatePageRecords 0 must be between 1 and 1000000")]
    [InlineData("RebuildBytesPerSecond", "1000", "Kbl:RebuildBytesPerSecond 1000 must be at least 65536 (64 KiB/s)")]
    [InlineData("RebuildStreams", "0", "Kbl:RebuildStreams 0 must be between 1 and 64")]
    [InlineData("StrayCopySweepPeriod", "00:00:00.5", "Kbl:StrayCopySweepPeriod 00:00:00.5000000 must be 00:00:00 (only at start) or between 00:00:01 and 1.00:00:00")]
    public void A_bad_bound_is_refused_in_one_line_naming_it(string key, string value, string message)
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Load((key, value)));
        Assert.Equal(message, refused.Message);
    }

    [Fact]
    public void A_queue_without_a_concurrency_limit_is_refused()
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Load(("Gateway:MaxConcurrentRequests", "0"), ("Gateway:MaxQueuedRequests", "10")));
        Assert.Contains("Kbl:Gateway:MaxQueuedRequests", refused.Message, StringComparison.Ordinal);
    }

    private static KblSettings Load(params (string Key, string Value)[] settings) =>
        KblSettings.Load(new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>($"Kbl:{s.Key}", s.Value)))
            .Build());
}
