using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Silo.Routing;

/// <summary>
/// The gateway's route cache: for each colony, the leaves it has learnt (range → KBL path). A request goes
/// straight to the cached leaf; a <see cref="Moved"/> answer replaces the entry with the children it names (or,
/// when it names none, forgets the colony's routes and walks again from the root), and the request is retried.
/// Clients never see a split or a merge.
/// </summary>
public sealed class ColonyRouter(IGrainFactory grains)
{
    private const int MaxHops = 512;

    /// <summary>The leaf pages of a <see cref="Scan"/>: 1,000 records or 4 MiB.</summary>
    public static readonly PageBounds DefaultPage = new(1000, PageBounds.TransferBytes);

    private readonly ConcurrentDictionary<string, RouteTable> _routes = new(StringComparer.Ordinal);
    private long _requests;
    private long _calls;

    /// <summary>Requests routed, and the grain calls they took (1 each when the route cache is warm).</summary>
    public (long Requests, long Calls) Hops => (Interlocked.Read(ref _requests), Interlocked.Read(ref _calls));

    public IKblGrain Root(string colony) => Kbl(colony, ColonyNames.RootPath);

    /// <summary>Drops the routes learnt for <paramref name="colony"/> (it was deleted): the next request walks from its root.</summary>
    public void Forget(string colony) => _routes.TryRemove(colony, out _);

    /// <summary>Sends <paramref name="call"/> to the leaf that owns <paramref name="key"/>, following moves.</summary>
    public async Task<T> Send<T>(string colony, byte[] key, Func<IKblGrain, Task<T>> call)
        where T : IKblReply
    {
        var table = _routes.GetOrAdd(colony, _ => new RouteTable());
        var path = table.Find(key);
        var walks = 0;
        Interlocked.Increment(ref _requests);
        for (var hop = 0; hop < MaxHops; hop++)
        {
            Interlocked.Increment(ref _calls);
            var reply = await call(Kbl(colony, path));
            if (reply.Status != KblStatus.Moved)
            {
                return reply;
            }

            if (reply.Moved is { Children.Count: > 0 } moved && moved.Children.FirstOrDefault(c => c.Range.Contains(key)) is { } child)
            {
                // The children a KBL names are the truth at its epoch: go straight to the right one. The cache takes
                // them in unless a concurrent request already did (or it disagrees, then it starts afresh).
                if (table.Replace(path, moved.Children) == RouteTable.Outcome.Inconsistent)
                {
                    table.Reset();
                }

                path = child.Path;
                continue;
            }

            // The KBL merged into its parent or is still being born: walk from the root again, which waits on any
            // split or merge in progress. Back off a little if that keeps happening.
            table.Reset();
            path = ColonyNames.RootPath;
            if (++walks > 2)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5 * walks, 200)));
            }
        }

        throw new KblRoutingException($"no KBL of colony '{colony}' took key '{KeyOrder.Display(key)}' after {MaxHops} hops");
    }

    /// <summary>
    /// One page of the records of <c>[from, to)</c> (after <paramref name="from"/> when exclusive) in key order,
    /// across leaf boundaries, within <paramref name="bounds"/>: at most that many records and bytes (keys plus
    /// values), but at least one record. <see cref="RecordPage.More"/>: the range may hold records after the page
    /// (always so when a bound stopped it; false only when the scan reached the end of the range).
    /// </summary>
    public async Task<RecordPage> Page(
        string colony, byte[] from, bool exclusive, byte[]? to, PageBounds bounds, CancellationToken cancellationToken = default)
    {
        var records = new List<StoredRecord>();
        long bytes = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var want = new PageBounds(bounds.Records - records.Count, bounds.Bytes - bytes, Started: records.Count > 0);
            var (cursor, cursorExclusive) = (from, exclusive);
            var page = await Send(colony, cursor, g => g.Scan(cursor, cursorExclusive, to, want, cancellationToken));
            if (page.Status != KblStatus.Ok)
            {
                throw new KblStatusException(page.Status, page.Message ?? page.Status.ToString());
            }

            records.AddRange(page.Records);
            bytes += page.Records.Sum(PageBounds.SizeOf);
            if (page.Truncated)
            {
                return new RecordPage(records, More: true);
            }

            if (page.RangeEnd is null || (to is not null && KeyOrder.Compare(page.RangeEnd, to) >= 0))
            {
                return new RecordPage(records, More: false);
            }

            (from, exclusive) = (page.RangeEnd, false);
            if (records.Count >= bounds.Records || bytes >= bounds.Bytes)
            {
                return new RecordPage(records, More: true); // full at a leaf's end: the next leaf may hold more
            }
        }
    }

    /// <summary>
    /// Records of <c>[from, to)</c> in key order across leaf boundaries (after <paramref name="from"/> when exclusive),
    /// at most <paramref name="limit"/>, fetched in pages of <paramref name="page"/> (default: 1,000 records or 4 MiB).
    /// </summary>
    public async IAsyncEnumerable<StoredRecord> Scan(
        string colony, byte[] from, bool exclusive, byte[]? to, long limit, PageBounds? page = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        page ??= DefaultPage;
        var remaining = limit;
        while (remaining > 0)
        {
            var next = await Page(colony, from, exclusive, to, page with { Records = (int)Math.Min(remaining, page.Records) }, cancellationToken);
            foreach (var record in next.Records)
            {
                yield return record;
            }

            remaining -= next.Records.Count;
            if (!next.More || next.Records.Count == 0)
            {
                yield break;
            }

            (from, exclusive) = (next.Records[^1].Key, true);
        }
    }

    /// <summary>
    /// A colony's aggregate, from its root: an interior root answers for its whole tree; a root that is a leaf
    /// answers a page per call and is asked again from where it stopped. Cancellation stops the work in the grains.
    /// </summary>
    public Task<AggregatePartial> Aggregate(string colony, AggregateQuery query, CancellationToken cancellationToken = default) =>
        AggregatePages.Collect(Root(colony).Aggregate, query, cancellationToken);

    private IKblGrain Kbl(string colony, string path) => grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, path));

    /// <summary>The cached leaves of one colony: adjacent ranges that together cover the whole key space.</summary>
    private sealed class RouteTable
    {
        private readonly Lock _lock = new();
        private List<ChildRef> _entries = [new ChildRef(ColonyNames.RootPath, KeyRange.All)];

        public string Find(byte[] key)
        {
            lock (_lock)
            {
                int lo = 0, hi = _entries.Count - 1;
                while (lo < hi)
                {
                    var mid = (lo + hi + 1) / 2;
                    if (KeyOrder.Compare(_entries[mid].Range.Lo, key) <= 0)
                    {
                        lo = mid;
                    }
                    else
                    {
                        hi = mid - 1;
                    }
                }

                return _entries[lo].Path;
            }
        }

        public enum Outcome
        {
            Replaced,
            Missing,
            Inconsistent,
        }

        /// <summary>Puts <paramref name="children"/> in the place of <paramref name="path"/>.</summary>
        public Outcome Replace(string path, IReadOnlyList<ChildRef> children)
        {
            lock (_lock)
            {
                var index = _entries.FindIndex(e => e.Path == path);
                if (index < 0)
                {
                    return Outcome.Missing;
                }

                var range = _entries[index].Range;
                var covers = children[0].Range.Lo.AsSpan().SequenceEqual(range.Lo) &&
                    Equals(children[^1].Range.Hi is null, range.Hi is null) &&
                    (range.Hi is null || children[^1].Range.Hi!.AsSpan().SequenceEqual(range.Hi));
                if (!covers)
                {
                    return Outcome.Inconsistent;
                }

                var next = new List<ChildRef>(_entries.Count + children.Count);
                next.AddRange(_entries.Take(index));
                next.AddRange(children);
                next.AddRange(_entries.Skip(index + 1));
                _entries = next;
                return Outcome.Replaced;
            }
        }

        public void Reset()
        {
            lock (_lock)
            {
                _entries = [new ChildRef(ColonyNames.RootPath, KeyRange.All)];
            }
        }
    }
}
