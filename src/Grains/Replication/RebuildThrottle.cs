namespace Kbl.Replication;

/// <summary>
/// Paces the rebuilds a silo sends (every snapshot streamed from it, together) to <see cref="BytesPerSecond"/>
/// (<c>Kbl:RebuildBytesPerSecond</c>), so rebuilding copies after a failure leaves the disk, network and cores to
/// the requests. Each page reserves the next slot of the silo's budget and is sent when that slot ends.
/// </summary>
public sealed class RebuildThrottle(long bytesPerSecond, TimeProvider time)
{
    private readonly Lock _gate = new();
    private DateTimeOffset _free = DateTimeOffset.MinValue;

    private int _streams;

    public long BytesPerSecond { get; set; } = bytesPerSecond;

    /// <summary>Snapshots being streamed from this silo now.</summary>
    public int Streams => Volatile.Read(ref _streams);

    /// <summary>Counts a stream in <see cref="Streams"/> until the result is disposed.</summary>
    public IDisposable Streaming()
    {
        Interlocked.Increment(ref _streams);
        return new Ended(this);
    }

    /// <summary>Waits until <paramref name="bytes"/> may be sent: the end of the next slot of the budget that long (no burst).</summary>
    public async Task Take(long bytes, CancellationToken cancellation)
    {
        var now = time.GetUtcNow();
        DateTimeOffset end;
        lock (_gate)
        {
            end = (_free > now ? _free : now) + TimeSpan.FromSeconds((double)bytes / BytesPerSecond);
            _free = end;
        }

        await Task.Delay(end - now, time, cancellation);
    }

    private sealed class Ended(RebuildThrottle throttle) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                Interlocked.Decrement(ref throttle._streams);
            }
        }
    }
}
