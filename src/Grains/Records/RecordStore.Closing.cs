using System.Collections.Concurrent;
using RocksDbSharp;

namespace Kbl.Records;

// Closing the database while it is in use. A turn of a grain can still be running when its silo's services are
// disposed (a host stopping mid-request; an in-process silo killed by a test), and a RocksDB call on a closed
// database is a native use-after-free that takes the whole process down. So every method that touches the database
// first enters (an ObjectDisposedException once the store is closing), and Dispose closes the database only when
// nothing is inside: the late turn gets an exception it can handle, never a crash. What lives across calls is
// released by Dispose before the database: snapshots being streamed, and iterators of scans a caller has not
// finished (each step of a scan enters on its own, so a scan read across awaits holds nothing up).
public sealed partial class RecordStore
{
    /// <summary>How long Dispose waits for the calls inside: each is one short RocksDB call or a copy that stops at its next batch.</summary>
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(10);

    /// <summary>Snapshots being read: released before the database closes, so no stream reads a closed store.</summary>
    private readonly ConcurrentDictionary<ShardSnapshot, byte> _snapshots = new();

    /// <summary>Iterators of scans in progress: whoever removes one disposes it (the scan when it ends, or Dispose).</summary>
    private readonly ConcurrentDictionary<Iterator, byte> _iterators = new();

    /// <summary>Calls inside the database now.</summary>
    private int _inside;

    /// <summary>1 once Dispose started: no call enters after.</summary>
    private int _closing;

    /// <summary>Whether the store is closing (a long copy checks it between batches and stops).</summary>
    private bool Closing => Volatile.Read(ref _closing) != 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        // Entering increments, then checks _closing; closing sets it, then waits for the count: each sees the other.
        SpinWait.SpinUntil(() => Volatile.Read(ref _inside) == 0, CloseWait);
        foreach (var snapshot in _snapshots.Keys)
        {
            snapshot.Dispose();
        }

        foreach (var iterator in _iterators.Keys)
        {
            if (_iterators.TryRemove(iterator, out _))
            {
                iterator.Dispose();
            }
        }

        _db.Dispose();
    }

    /// <summary>Enters the database for one call (dispose the result when done); throws once the store is closing.</summary>
    private Inside Enter()
    {
        Interlocked.Increment(ref _inside);
        if (Closing)
        {
            Interlocked.Decrement(ref _inside);
            throw new ObjectDisposedException(nameof(RecordStore), "the silo's record store is closed");
        }

        return new Inside(this);
    }

    /// <summary>A scan's iterator, made inside a call and kept until <see cref="ReleaseIterator"/> (or Dispose).</summary>
    private Iterator KeepIterator(Iterator iterator)
    {
        _iterators[iterator] = 0;
        return iterator;
    }

    private void ReleaseIterator(Iterator iterator)
    {
        Interlocked.Increment(ref _inside);
        try
        {
            if (!Closing && _iterators.TryRemove(iterator, out _))
            {
                iterator.Dispose(); // once closing, Dispose releases it, after every call inside has left
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inside);
        }
    }

    private readonly struct Inside(RecordStore store) : IDisposable
    {
        public void Dispose() => Interlocked.Decrement(ref store._inside);
    }
}
