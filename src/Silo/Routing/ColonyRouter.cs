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
    private const int ScanPage = 1000;
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

    /// <summary>Records of <c>[from, to)</c> in key order across leaf boundaries (after <paramref name="from"/> when exclusive).</summary>
    public async IAsyncEnumerable<StoredRecord> Scan(
        string colony, byte[] from, bool exclusive, byte[]? to, int limit, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var remaining = limit;
        while (remaining > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var want = Math.Min(remaining, ScanPage);
            var (cursor, cursorExclusive) = (from, exclusive);
            var page = await Send(colony, cursor, g => g.Scan(cursor, cursorExclusive, to, want));
            if (page.Status != KblStatus.Ok)
            {
                throw new KblStatusException(page.Status, page.Message ?? page.Status.ToString());
            }

            foreach (var record in page.Records)
            {
                yield return record;
            }

            remaining -= page.Records.Count;
            if (page.Records.Count == want)
            {
                (from, exclusive) = (page.Records[^1].Key, true);
            }
            else if (page.RangeEnd is null || (to is not null && KeyOrder.Compare(page.RangeEnd, to) >= 0))
            {
                yield break;
            }
            else
            {
                (from, exclusive) = (page.RangeEnd, false);
            }
        }
    }

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
