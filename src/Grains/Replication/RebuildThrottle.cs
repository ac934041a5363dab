namespace Kbl.Replication;

/// <summary>
/// Paces the rebuilds a silo sends: at most <see cref="MaxStreams"/> snapshots stream from it at once
/// (<c>Kbl:RebuildStreams</c>; the others wait for a turn, first come first served), all of them together at
/// <see cref="BytesPerSecond"/> (<c>Kbl:RebuildBytesPerSecond</c>), so rebuilding copies after a failure leaves the
/// disk, network and cores to the requests. Turns make the leaves of a large loss whole one after another: with the
/// budget shared among all of them at once, every leaf would stay short of a copy until nearly the last byte of the
/// whole loss had streamed, each holding its snapshot (and the versions RocksDB keeps for it) all that time.
/// Each page reserves the next slot of the silo's budget and is sent when that slot ends.
/// </summary>
public sealed class RebuildThrottle(long bytesPerSecond, int maxStreams, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Queue<TaskCompletionSource<IDisposable>> _waiting = new();
    private DateTimeOffset _free = DateTimeOffset.MinValue;
    private int _streams;
    private int _maxStreams = maxStreams;

    public long BytesPerSecond { get; set; } = bytesPerSecond;

    /// <summary>How many snapshots may stream from this silo at once.</summary>
    public int MaxStreams
    {
        get => Volatile.Read(ref _maxStreams);
        set
        {
            lock (_gate)
            {
                _maxStreams = value;
                Admit();
            }
        }
    }

    /// <summary>Snapshots being streamed from this silo now (each holding a turn).</summary>
    public int Streams
    {
        get
        {
            lock (_gate)
            {
                return _streams;
            }
        }
    }

    /// <summary>Rebuilds waiting for a turn (not those that stopped waiting).</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count(w => !w.Task.IsCompleted);
            }
        }
    }

    /// <summary>
    /// Waits for a turn to stream a snapshot (at once when fewer than <see cref="MaxStreams"/> stream and nobody
    /// waits, or when <paramref name="urgent"/>: a turn beyond the limit, for a copy something waits on); disposing
    /// the result ends it and passes it on. Cancelling the wait gives up the place in the queue.
    /// </summary>
    public Task<IDisposable> Turn(CancellationToken cancellation, bool urgent = false)
    {
        TaskCompletionSource<IDisposable> waiter;
        lock (_gate)
        {
            if (urgent || (_streams < _maxStreams && _waiting.Count == 0))
            {
                _streams++;
                return Task.FromResult<IDisposable>(new Ended(this));
            }

            waiter = new TaskCompletionSource<IDisposable>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue(waiter);
        }

        return Wait(waiter, cancellation);

        static async Task<IDisposable> Wait(TaskCompletionSource<IDisposable> waiter, CancellationToken cancellation)
        {
            await using var registration = cancellation.Register(() => waiter.TrySetCanceled(cancellation));
            return await waiter.Task;
        }
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

    /// <summary>Hands free turns to the first waiters that still wait (a cancelled one is passed by). Under the gate.</summary>
    private void Admit()
    {
        while (_streams < _maxStreams && _waiting.TryDequeue(out var next))
        {
            if (next.TrySetResult(new Ended(this)))
            {
                _streams++;
            }
        }
    }

    private void End()
    {
        lock (_gate)
        {
            _streams--;
            Admit();
        }
    }

    private sealed class Ended(RebuildThrottle throttle) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                throttle.End();
            }
        }
    }
}
