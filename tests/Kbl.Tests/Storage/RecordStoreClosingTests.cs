using System.Collections.Concurrent;
using System.Text;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;

namespace Kbl.Tests.Storage;

/// <summary>
/// A silo's record store closing while grain turns still use it (a host stopping mid-request, an in-process silo
/// killed by a test): the late calls fail with <see cref="ObjectDisposedException"/> instead of touching a closed
/// RocksDB (a native use-after-free that would take the process down), every write that returned is on disk, and
/// the database is really closed (the same folder opens again).
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class RecordStoreClosingTests : IDisposable
{
    private const string Colony = "closing";
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kbl-closing-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose() => Directory.Delete(_path, recursive: true);

    [Fact]
    public void Every_call_after_the_store_closed_fails_with_an_error_and_the_folder_opens_again()
    {
        var store = new RecordStore(_path, syncWrites: false);
        store.Write(Colony, Key(1), Bytes("kept"), 1, "closing/r", 1);
        store.Dispose();
        store.Dispose(); // twice, as a host and a test both may

        var calls = new Action[]
        {
            () => store.Get(Colony, Key(1)),
            () => store.Write(Colony, Key(2), Bytes("late"), 2, "closing/r", 2),
            () => store.Scan(Colony, [], exclusive: false, null).ToList(),
            () => store.Measure(Colony, KeyRange.All),
            () => store.ReadClock("closing/r"),
            () => store.KblIds(),
            () => store.ShardPosition("closing/r"),
            () => store.SealShard("closing/r", 3),
            () => store.ApplyEntries(Colony, "closing/r", 3, [new LogEntry(1, 3, Key(3), Bytes("late"))], 10),
            () => store.DeleteRange(Colony, KeyRange.All),
            () => store.SnapshotShard(Colony, "closing/r", KeyRange.All),
            () => store.Digest(Colony, "closing/r", KeyRange.All, replica: false),
        };
        foreach (var call in calls)
        {
            Assert.Throws<ObjectDisposedException>(call);
        }

        using var reopened = new RecordStore(_path, syncWrites: false);
        Assert.Equal("kept", Encoding.UTF8.GetString(reopened.Get(Colony, Key(1))!.Value));
        Assert.Null(reopened.Get(Colony, Key(2)));
    }

    [Fact]
    public void A_scan_left_half_read_does_not_hold_the_close_up_and_its_next_step_fails()
    {
        var store = new RecordStore(_path, syncWrites: false);
        store.Import(Colony, [.. Enumerable.Range(0, 10).Select(i => new StoredRecord(Key(i), Bytes("v"), i + 1))]);
        using var scan = store.Scan(Colony, [], exclusive: false, null).GetEnumerator();
        Assert.True(scan.MoveNext()); // a caller reading a page, then awaiting something

        store.Dispose(); // returns: the open scan's iterator is released with the database

        Assert.Throws<ObjectDisposedException>(() => scan.MoveNext());
        using var reopened = new RecordStore(_path, syncWrites: false);
        Assert.Equal(10, reopened.Measure(Colony, KeyRange.All).Keys);
    }

    [Fact]
    public void Closing_under_writers_and_readers_ends_each_call_with_its_result_or_that_error_and_keeps_every_write_that_returned()
    {
        var store = new RecordStore(_path, syncWrites: false);
        var acknowledged = new ConcurrentDictionary<int, byte>();
        var unexpected = new ConcurrentQueue<Exception>();
        var workers = Enumerable.Range(0, 4).Select(worker => new Thread(() =>
        {
            for (var i = worker; ; i += 4)
            {
                try
                {
                    store.Write(Colony, Key(i), Bytes($"v{i}"), i + 1, $"closing/w{worker}", i + 1);
                    acknowledged[i] = 0;
                    store.Get(Colony, Key(i / 2));
                    if (i % 64 == worker)
                    {
                        store.Scan(Colony, Key(i / 2), exclusive: false, Key(i)).Count();
                    }
                }
                catch (ObjectDisposedException)
                {
                    return;
                }
                catch (Exception e)
                {
                    unexpected.Enqueue(e);
                    return;
                }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        SpinWait.SpinUntil(() => acknowledged.Count >= 2_000);

        store.Dispose();
        workers.ForEach(w => w.Join()); // each ends at its first call after the close

        Assert.Empty(unexpected);
        using var reopened = new RecordStore(_path, syncWrites: false);
        var missing = acknowledged.Keys.Where(i => reopened.Get(Colony, Key(i)) is null).ToList();
        Assert.Empty(missing);
    }

    private static byte[] Key(int i) => KeyOrder.Encode($"k{i:D6}");

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
