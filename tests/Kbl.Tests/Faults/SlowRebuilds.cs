using Kbl.Replication;
using Kbl.Tests.Cluster;
using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Tests.Faults;

/// <summary>
/// Rebuilds paced at <c>bytesPerSecond</c> on every live silo of a test cluster, and (when given) at most
/// <c>maxStreams</c> streaming from each at once, until disposed (then as before).
/// </summary>
public sealed class SlowRebuilds : IDisposable
{
    private readonly List<(string Silo, RebuildThrottle Throttle, long Rate, int MaxStreams)> _throttles;

    public SlowRebuilds(KblTestCluster cluster, long bytesPerSecond, int? maxStreams = null)
    {
        _throttles = [.. cluster.LiveSilos.Select(s => (KblTestCluster.StableName(s.Name), s.ServiceProvider.GetRequiredService<RebuildThrottle>()))
            .Select(t => (t.Item1, t.Item2, t.Item2.BytesPerSecond, t.Item2.MaxStreams))];
        _throttles.ForEach(t => (t.Throttle.BytesPerSecond, t.Throttle.MaxStreams) = (bytesPerSecond, maxStreams ?? t.MaxStreams));
    }

    /// <summary>Snapshots streaming from any of those silos now.</summary>
    public int Streams => _throttles.Sum(t => t.Throttle.Streams);

    /// <summary>Copies being rebuilt from any of those silos now: streaming, or waiting for their turn.</summary>
    public int Rebuilds => _throttles.Sum(t => t.Throttle.Streams + t.Throttle.Waiting);

    /// <summary>The throttle of silo <paramref name="silo"/> (its stable name).</summary>
    public RebuildThrottle On(string silo) => _throttles.Single(t => t.Silo == silo).Throttle;

    public void Dispose() => _throttles.ForEach(t => (t.Throttle.BytesPerSecond, t.Throttle.MaxStreams) = (t.Rate, t.MaxStreams));
}
