using Kbl.Silo.Gateway;
using Orleans.Storage;

namespace Kbl.Tests.Gateway;

/// <summary>What a client is told (503) when the cluster, not its request, failed.</summary>
[Trait("Category", Category.Unit)]
public sealed class UnavailableMessageTests
{
    [Fact]
    public void A_request_that_reached_a_stale_activation_is_told_to_retry_without_storage_internals()
    {
        // As a KBL's conditional write of its state fails once a newer activation (a takeover) wrote it.
        var conflict = new InconsistentStateException("Version conflict (WriteState): ServiceId=kbl ProviderName=kbl GrainType=kbl GrainId=kbl/orders|r", "17", "18");

        var message = ColonyGateway.Unavailable(conflict);

        Assert.NotNull(message);
        Assert.Contains("newer one took over", message, StringComparison.Ordinal);
        Assert.EndsWith("retry", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Version conflict", message, StringComparison.Ordinal);
        Assert.DoesNotContain("GrainId", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_timeout_says_the_cluster_could_not_serve_the_request_and_why()
    {
        var message = ColonyGateway.Unavailable(new TimeoutException("Response did not arrive on time in 00:00:30"));

        Assert.Equal("the cluster could not serve this request now: Response did not arrive on time in 00:00:30", message);
    }

    [Fact]
    public void A_failure_that_is_not_the_clusters_is_not_called_unavailable() =>
        Assert.Null(ColonyGateway.Unavailable(new ArgumentException("bad key")));
}
