using Kbl.Replication;
using Kbl.Tests.Cluster;
using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Tests.Faults;

/// <summary>Rebuilds paced at <c>bytesPerSecond</c> on every live silo of a test cluster until disposed (then as before).</summary>
public sealed class SlowRebuilds : IDisposable
{
    private readonly List<(RebuildThrottle Throttle, long Rate)> _throttles;

    public SlowRebuilds(KblTestCluster cluster, long bytesPerSecond)
    {
        _throttles = [.. cluster.LiveSilos.Select(s => s.ServiceProvider.GetRequiredService<RebuildThrottle>()).Select(t => (t, t.BytesPerSecond))];
        _throttles.ForEach(t => t.Throttle.BytesPerSecond = bytesPerSecond);
    }

    /// <summary>Snapshots streaming from any of those silos now.</summary>
    public int Streams => _throttles.Sum(t => t.Throttle.Streams);

    public void Dispose() => _throttles.ForEach(t => t.Throttle.BytesPerSecond = t.Rate);
}
