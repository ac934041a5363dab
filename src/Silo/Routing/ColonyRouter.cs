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

    /// <summary>
    /// How many times a batch's keys that met a moved leaf are grouped and sent again before they go alone: each round
    /// learns one level of the tree (an interior KBL names its children), so a cache reset walks a deep tree in rounds.
    /// </summary>
    private const int BatchRounds = 16;

    /// <summary>The leaf pages of a <see cref="Scan"/>: 1,000 records or 4 MiB.</summary>
    public static readonly PageBounds DefaultPage = new(1000, PageBounds.TransferBytes);

    private readonly ConcurrentDictionary<string, RouteTable> _routes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, WriteQueue> _writes = new(StringComparer.Ordinal);
    private long _requests;
    private long _calls;

    /// <summary>Requests routed, and the grain calls they took (1 each when the route cache is warm).</summary>
    public (long Requests, long Calls) Hops => (Interlocked.Read(ref _requests), Interlocked.Read(ref _calls));

    public IKblGrain Root(string colony) => Kbl(colony, ColonyNames.RootPath);

    /// <summary>Drops the routes learnt for <paramref name="colony"/> (it was deleted): the next request walks from its root.</summary>
    public void Forget(string colony) => _routes.TryRemove(colony, out _);

    /// <summary>Sends <paramref name="call"/> to the leaf that owns <paramref name="key"/>, following moves.</summary>
    public Task<T> Send<T>(string colony, byte[] key, Func<IKblGrain, Task<T>> call)
        where T : class, IKblReply
    {
        Interlocked.Increment(ref _requests);
        return Follow(colony, key, call, Table(colony).Find(key), reply: null);
    }

    /// <summary>Sends <paramref name="call"/> to <paramref name="path"/> (or takes <paramref name="reply"/>, its answer already) and follows moves.</summary>
    private async Task<T> Follow<T>(string colony, byte[] key, Func<IKblGrain, Task<T>> call, string path, T? reply)
        where T : class, IKblReply
    {
        var table = Table(colony);
        var walks = 0;
        for (var hop = 0; hop < MaxHops; hop++)
        {
            if (reply is null)
            {
                Interlocked.Increment(ref _calls);
                reply = await call(Kbl(colony, path));
            }

            if (reply.Status != KblStatus.Moved)
            {
                return reply;
            }

            var moved = reply.Moved;
            reply = null;
            if (Learn(table, path, moved, key) is { } child)
            {
                path = child;
                continue;
            }

            // The KBL merged into its parent or is still being born: walk from the root again, which waits on any
            // split or merge in progress. Back off a little if that keeps happening.
            path = ColonyNames.RootPath;
            if (++walks > 2)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5 * walks, 200)));
            }
        }

        throw new KblRoutingException($"no KBL of colony '{colony}' took key '{KeyOrder.Display(key)}' after {MaxHops} hops");
    }

    /// <summary>
    /// Takes in what a <see cref="KblStatus.Moved"/> answer from <paramref name="path"/> says, and names the KBL to
    /// send <paramref name="key"/> to next; null: walk from the root again (the KBL merged into its parent or is still
    /// being born — the cache starts afresh).
    /// </summary>
    private static string? Learn(RouteTable table, string path, Moved? moved, byte[] key)
    {
        if (moved is { Children.Count: > 0 } && moved.Children.FirstOrDefault(c => c.Range.Contains(key)) is { } child)
        {
            // The children a KBL names are the truth at its epoch: go straight to the right one. The cache takes
            // them in unless a concurrent request already did (or it disagrees, then it starts afresh).
            if (table.Replace(path, moved.Children) == RouteTable.Outcome.Inconsistent)
            {
                table.Reset();
            }

            return child.Path;
        }

        table.Reset();
        return null;
    }

    /// <summary>
    /// Reads many keys: one <see cref="IKblGrain.GetMany"/> call per leaf they fall in, all at once (see
    /// <see cref="Batch{T}"/>); one outcome per key, in order.
    /// </summary>
    public Task<BatchOutcome<ReadResult>[]> GetMany(string colony, IReadOnlyList<byte[]> keys) =>
        Batch(colony, keys, (leaf, batch) => leaf.GetMany([.. batch.Select(i => keys[i])]), i => leaf => leaf.Get(keys[i]));

    /// <summary>
    /// Writes many records: one <see cref="IKblGrain.WriteMany"/> call per leaf they fall in, all at once (each leaf
    /// commits its share in one store write and one replication round); writes of one key keep their order. One
    /// outcome per write, in order; a leaf's call lost in transit leaves its writes' outcome unknown.
    /// </summary>
    public Task<BatchOutcome<WriteResult>[]> WriteMany(string colony, IReadOnlyList<RecordWrite> writes) =>
        Batch(colony, [.. writes.Select(w => w.Key)], (leaf, batch) => leaf.WriteMany([.. batch.Select(i => writes[i])]), i => leaf => Alone(leaf, writes[i]));

    /// <summary>
    /// A batch: keys grouped by the leaf the route cache names, one call per leaf, all at once. Keys a leaf answers
    /// <see cref="KblStatus.Moved"/> for (a split or merge the cache had not seen) are grouped again by what the answers
    /// taught it, a level of the tree a round, for up to <see cref="BatchRounds"/> rounds; any left then follow alone,
    /// each key's writes in order. Writes of one key apply in the batch's order on every path: a round groups every key
    /// by one view of the cache (so a key's writes go in one call, which the leaf applies in order — or answers
    /// <see cref="KblStatus.Moved"/> for all of them), and a key's later calls wait for its earlier ones. Every record gets
    /// an outcome: a call that failed leaves its records with the failure.
    /// </summary>
    private async Task<BatchOutcome<T>[]> Batch<T>(
        string colony, IReadOnlyList<byte[]> keys, Func<IKblGrain, int[], Task<IReadOnlyList<T>>> many, Func<int, Func<IKblGrain, Task<T>>> one)
        where T : class, IKblReply
    {
        Interlocked.Add(ref _requests, keys.Count);
        var table = Table(colony);
        var outcomes = new BatchOutcome<T>[keys.Count];
        var pending = Enumerable.Range(0, keys.Count).ToList();
        for (var round = 0; round < BatchRounds && pending.Count > 0; round++)
        {
            var moved = new List<int>();
            var routes = table.Snapshot();
            await Task.WhenAll(pending.GroupBy(i => RouteTable.Find(routes, keys[i]), StringComparer.Ordinal).Select(async leaf =>
            {
                var batch = leaf.ToArray();
                Interlocked.Increment(ref _calls);
                try
                {
                    var replies = await many(Kbl(colony, leaf.Key), batch);
                    for (var k = 0; k < batch.Length; k++)
                    {
                        if (replies[k].Status != KblStatus.Moved)
                        {
                            outcomes[batch[k]] = new(replies[k], null);
                            continue;
                        }

                        Learn(table, leaf.Key, replies[k].Moved, keys[batch[k]]);
                        lock (moved)
                        {
                            moved.Add(batch[k]);
                        }
                    }
                }
                catch (Exception e)
                {
                    // Whatever failed (lost in transit, refused as a whole, a fault in the leaf), this call's records
                    // share it; the other leaves' records keep theirs.
                    foreach (var i in batch)
                    {
                        outcomes[i] = new(null, e);
                    }
                }
            }));
            pending = [.. moved.Order()];
        }

        // Still moving after the rounds: each key follows alone — keys at once, a key's records one after another.
        await Task.WhenAll(pending.GroupBy(i => keys[i], KeyOrder.Equality).Select(async key =>
        {
            foreach (var i in key)
            {
                try
                {
                    outcomes[i] = new(await Follow(colony, keys[i], one(i), table.Find(keys[i]), reply: null), null);
                }
                catch (Exception e)
                {
                    outcomes[i] = new(null, e);
                }
            }
        }));
        return outcomes;
    }

    private static Task<WriteResult> Alone(IKblGrain leaf, RecordWrite write) =>
        write.Value is null ? leaf.Delete(write.Key, write.Condition) : leaf.Put(write.Key, write.Value, write.Condition);

    /// <summary>
    /// Sends a put or delete to the leaf that owns its key. With <paramref name="groupCommit"/>, it travels with the
    /// other writes that queue for that leaf while a call to it is under way: one grain call, one store write and one
    /// replication round for all of them (the first write of an idle leaf goes at once, alone). A write the leaf
    /// answers <see cref="KblStatus.Moved"/> (its route was stale) is sent again alone, following moves.
    /// </summary>
    public async Task<WriteResult> Write(string colony, RecordWrite write, bool groupCommit = true)
    {
        if (!groupCommit)
        {
            return await Send(colony, write.Key, leaf => Alone(leaf, write));
        }

        Interlocked.Increment(ref _requests);
        var path = Table(colony).Find(write.Key);
        var leaf = Kbl(colony, path);
        var result = await _writes.GetOrAdd(leaf.GetPrimaryKeyString(), id => new WriteQueue(this, id, leaf)).Add(write);
        return result.Status == KblStatus.Moved ? await Follow(colony, write.Key, leaf => Alone(leaf, write), path, result) : result;
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

    /// <summary>The reference to a KBL, kept with its colony's routes: making one (GetGrain) cost 7% of a GET's CPU.</summary>
    private IKblGrain Kbl(string colony, string path) => Table(colony).Grain(path, grains);

    private RouteTable Table(string colony) => _routes.GetOrAdd(colony, c => new RouteTable(c));

    /// <summary>
    /// The writes waiting for one leaf while a call to it is under way; they go together in the next call (at most
    /// <see cref="MaxWrites"/> writes or a transfer page of bytes, and always at least one). A queue that runs empty
    /// leaves the router; a write that still reached it is sent all the same.
    /// </summary>
    private sealed class WriteQueue(ColonyRouter router, string leafId, IKblGrain leaf)
    {
        private const int MaxWrites = 256;

        private readonly Lock _lock = new();
        private readonly Queue<(RecordWrite Write, TaskCompletionSource<WriteResult> Done)> _waiting = new();
        private bool _sending;

        public Task<WriteResult> Add(RecordWrite write)
        {
            var done = new TaskCompletionSource<WriteResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                _waiting.Enqueue((write, done));
                if (_sending)
                {
                    return done.Task;
                }

                _sending = true;
            }

            // The sender runs on in this request's context (its trace carries the calls that take other requests'
            // writes too); the gateway puts nothing of a request's own into the Orleans request context.
            _ = SendWaiting();

            return done.Task;
        }

        private async Task SendWaiting()
        {
            while (true)
            {
                var batch = new List<(RecordWrite Write, TaskCompletionSource<WriteResult> Done)>();
                lock (_lock)
                {
                    long bytes = 0;
                    while (_waiting.TryPeek(out var next) && batch.Count < MaxWrites &&
                           (batch.Count == 0 || bytes + Size(next.Write) <= PageBounds.TransferBytes))
                    {
                        bytes += Size(next.Write);
                        batch.Add(_waiting.Dequeue());
                    }

                    if (batch.Count == 0)
                    {
                        _sending = false;
                        router._writes.TryRemove(new KeyValuePair<string, WriteQueue>(leafId, this));
                        return;
                    }
                }

                Interlocked.Increment(ref router._calls);
                try
                {
                    var results = await leaf.WriteMany([.. batch.Select(b => b.Write)]);
                    for (var i = 0; i < batch.Count; i++)
                    {
                        batch[i].Done.TrySetResult(results[i]);
                    }
                }
                catch (Exception e)
                {
                    // Lost in transit (or refused as a whole): each write of the call learns it, as a lone write would.
                    foreach (var (_, done) in batch)
                    {
                        done.TrySetException(e);
                    }
                }
            }
        }

        private static long Size(RecordWrite write) => write.Key.Length + (write.Value?.Length ?? 0);
    }

    /// <summary>The cached leaves of one colony: adjacent ranges that together cover the whole key space.</summary>
    private sealed class RouteTable(string colony)
    {
        private readonly Lock _lock = new();
        private readonly ConcurrentDictionary<string, IKblGrain> _grains = new(StringComparer.Ordinal);
        private List<ChildRef> _entries = [new ChildRef(ColonyNames.RootPath, KeyRange.All)];

        public string Find(byte[] key) => Find(Snapshot(), key);

        /// <summary>The entries as they are now: a change replaces the list whole, so this view never changes under its reader.</summary>
        public IReadOnlyList<ChildRef> Snapshot()
        {
            lock (_lock)
            {
                return _entries;
            }
        }

        /// <summary>The path of the entry of <paramref name="entries"/> (a <see cref="Snapshot"/>) whose range holds <paramref name="key"/>.</summary>
        public static string Find(IReadOnlyList<ChildRef> entries, byte[] key)
        {
            int lo = 0, hi = entries.Count - 1;
            while (lo < hi)
            {
                var mid = (lo + hi + 1) / 2;
                if (KeyOrder.Compare(entries[mid].Range.Lo, key) <= 0)
                {
                    lo = mid;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return entries[lo].Path;
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

        /// <summary>The reference to KBL <paramref name="path"/> of the colony (made once; a reference stays valid whatever the tree does).</summary>
        public IKblGrain Grain(string path, IGrainFactory grains) =>
            _grains.TryGetValue(path, out var grain) ? grain : _grains.GetOrAdd(path, p => grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, p)));

        public void Reset()
        {
            lock (_lock)
            {
                _entries = [new ChildRef(ColonyNames.RootPath, KeyRange.All)];
            }

            _grains.Clear(); // the references of KBLs merged away go with the routes (the rest are made again as needed)
        }
    }
}

/// <summary>One key's outcome in a batch: the leaf's answer, or the failure of the call that carried it (for a write: its outcome unknown).</summary>
public readonly record struct BatchOutcome<T>(T? Reply, Exception? Failure)
    where T : class;
