using System.Diagnostics.Metrics;
using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Telemetry;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Tests.Cluster;

/// <summary>
/// An aggregate over a large leaf goes in pages, a turn each: the leaf takes writes between them, and a cancelled
/// aggregate stops in the grains. What happens is read from the leaves' own page counter (<c>kbl.aggregate.pages</c>)
/// and from the order of events, never from timings.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class AggregatePagingTests(ClusterFixture fixture)
{
    /// <summary>Records in the large leaf: with 8 a page (the fixture's), the aggregate over it takes 500 pages.</summary>
    private const int LargeLeafRecords = 4000;

    private const int Pages = LargeLeafRecords / ClusterFixture.AggregatePageRecords;

    private static readonly AggregateQuery CountLargeLeaf = new(KeyOrder.Encode("z"), null, AggregateOp.Count, null);

    [Fact]
    public async Task A_write_to_a_leaf_goes_in_while_a_long_aggregate_over_it_runs()
    {
        const string colony = "paged-aggregate";
        var leaf = await LargeRootLeaf(colony);
        using var pages = new PageCounter(colony);
        var written = new TaskCompletionSource<(WriteResult Result, long Pages)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var key = KeyOrder.Encode("z0007");
        pages.OnPage = n =>
        {
            if (n == 3)
            {
                // Sent from inside the leaf's third page by the client that asks for the pages (the router asks a
                // colony whose root is a leaf page by page), through the same gateway: it reaches the leaf before the
                // fourth page is asked for. A leaf that finishes a whole aggregate in one turn serves it only after
                // the last page. The pages counted when it completes say how long it waited. (Sent from the leaf's
                // silo instead, the write once reached the leaf only after all 500 pages, in a suite run beside
                // another test process.)
                _ = fixture.Grains.GetGrain<IKblGrain>(leaf.Id).Put(key, Encoding.UTF8.GetBytes("{\"v\":7}"), Precondition.None).ContinueWith(
                    w => _ = w.IsCompletedSuccessfully ? written.TrySetResult((w.Result, pages.Count)) : written.TrySetException(w.Exception!),
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        };

        var aggregate = fixture.Router.Aggregate(colony, CountLargeLeaf);
        var (writeResult, pagesWhenWritten) = await written.Task.WaitAsync(TimeSpan.FromSeconds(30));
        var result = await aggregate;

        Assert.Equal(KblStatus.Ok, writeResult.Status);
        Assert.True(pagesWhenWritten < Pages, $"the write waited for {pagesWhenWritten} of the aggregate's {Pages} pages");
        Assert.Equal(KblStatus.Ok, result.Status);
        Assert.Equal(LargeLeafRecords, result.Records);
        Assert.Equal(1, result.Leaves);
        Assert.True(pages.Count >= Pages, $"{pages.Count} pages");
    }

    [Fact]
    public async Task A_cancelled_aggregate_stops_in_the_grains_and_the_leaf_takes_writes()
    {
        const string colony = "cancelled-aggregate";
        await GrowLargeLeaf(colony);
        using var pages = new PageCounter(colony);
        using var cancel = new CancellationTokenSource();
        var release = new ManualResetEventSlim();
        pages.OnPage = n =>
        {
            if (n == 3)
            {
                _ = Task.Run(cancel.Cancel);
            }
            else if (n > 3)
            {
                // Later pages wait (bounded) until the test has seen the root give up, so the aggregate cannot simply
                // outrun the cancellation.
                release.Wait(TimeSpan.FromSeconds(20));
            }
        };

        long stoppedAt;
        try
        {
            var aggregate = fixture.Router.Aggregate(colony, CountLargeLeaf, cancel.Token);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => aggregate);

            // The root answers again while the leaf's page is held: its aggregate turn has ended, asking for no more.
            Assert.Equal(KblRole.Interior, (await Root(colony).GetTree(0, false)).Role);
            stoppedAt = pages.Count;
        }
        finally
        {
            release.Set();
        }

        // A write to the leaf goes in after the held page, and no further page follows it.
        await Put(colony, "z0042", "{\"v\":42}");
        Assert.Equal(KblStatus.Ok, (await Get(colony, "z0042")).Status);
        Assert.True(stoppedAt < Pages, $"the cancelled aggregate ran all {stoppedAt} of its {Pages} pages");
        Assert.Equal(stoppedAt, pages.Count);

        // The same aggregate, not cancelled, covers the whole leaf.
        pages.OnPage = null;
        var whole = await fixture.Router.Aggregate(colony, CountLargeLeaf);
        Assert.Equal(LargeLeafRecords, whole.Records);
        Assert.True(pages.Count - stoppedAt >= Pages, $"{pages.Count - stoppedAt} pages");
    }

    [Fact]
    public async Task A_colony_whose_root_is_a_leaf_is_aggregated_page_by_page_by_the_router()
    {
        const string colony = "paged-root";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 100_000, MergeKeys = 1 });
        for (var i = 0; i < 100; i++)
        {
            await Put(colony, $"k{i:d3}", $"{{\"v\":{i}}}");
        }

        using var pages = new PageCounter(colony);
        var sum = await fixture.Router.Aggregate(colony, new AggregateQuery([], null, AggregateOp.Sum, "v"));

        Assert.Equal(Enumerable.Range(0, 100).Sum(), sum.Sum);
        Assert.Equal(100, sum.Records);
        Assert.Equal(1, sum.Leaves);
        Assert.Equal(KblRole.Leaf, (await Root(colony).GetTree(0, false)).Role);
        Assert.True(pages.Count >= 100 / ClusterFixture.AggregatePageRecords, $"{pages.Count} pages");
    }

    /// <summary>A colony whose root is one large leaf, every key from <c>z</c> on.</summary>
    private async Task<KblView> LargeRootLeaf(string colony)
    {
        await Root(colony).Configure(Genome.Default with { SplitKeys = 1_000_000, MergeKeys = 1, SplitOpsPerSecond = 1_000_000, Hysteresis = TimeSpan.FromHours(1) });
        await PutLargeLeafRecords(colony);
        var root = await Root(colony).GetTree();
        Assert.Equal(KblRole.Leaf, root.Role);
        return root;
    }

    /// <summary>A colony whose root has divided, with one large leaf: the keys from <c>z</c> on, all in the last leaf.</summary>
    private async Task<KblView> GrowLargeLeaf(string colony)
    {
        var small = Genome.Default with { SplitKeys = 4, MergeKeys = 1, SplitOpsPerSecond = 1_000_000, MergeOpsPerSecond = 1, Hysteresis = TimeSpan.FromHours(1) };
        await Root(colony).Configure(small);
        foreach (var key in new[] { "a", "b", "c", "d", "e" })
        {
            await Put(colony, key, "{\"v\":0}");
        }

        await Eventually.Until(
            () => Root(colony).GetTree(), t => t.Role == KblRole.Interior && TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= 4), TimeSpan.FromSeconds(30), $"{colony} divided");

        // Now large leaves stay whole: the last one takes every key from z on.
        await Root(colony).Configure(small with { SplitKeys = 1_000_000 });
        await PutLargeLeafRecords(colony);
        var tree = await Root(colony).GetTree();
        var large = Assert.Single(TreeWalk.Leaves(tree), l => l.Range.Contains(KeyOrder.Encode("z")));
        Assert.Equal(LargeLeafRecords, (await fixture.Router.Scan(colony, KeyOrder.Encode("z"), false, null, int.MaxValue).CountAsync()));
        Assert.Equal(KblRole.Leaf, large.Role);
        return large;
    }

    /// <summary>Writes the large leaf's records: every key from <c>z0000</c>, 16 at a time.</summary>
    private Task PutLargeLeafRecords(string colony) =>
        Parallel.ForEachAsync(Enumerable.Range(0, LargeLeafRecords), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) =>
            await Put(colony, $"z{i:d4}", $"{{\"v\":{i}}}"));

    private IKblGrain Root(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));

    private async Task Put(string colony, string key, string value)
    {
        var bytes = KeyOrder.Encode(key);
        var reply = await fixture.Router.Send(colony, bytes, g => g.Put(bytes, Encoding.UTF8.GetBytes(value), Precondition.None));
        Assert.True(reply.Status == KblStatus.Ok, $"put {colony}/{key}: {reply.Status} {reply.Message}");
    }

    private Task<ReadResult> Get(string colony, string key)
    {
        var bytes = KeyOrder.Encode(key);
        return fixture.Router.Send(colony, bytes, g => g.Get(bytes));
    }

    /// <summary>Counts the aggregate pages the leaves of one colony compute (the silos' <c>kbl.aggregate.pages</c>), calling <see cref="OnPage"/> with each new count.</summary>
    private sealed class PageCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly string _colony;
        private long _count;

        public PageCounter(string colony)
        {
            _colony = colony;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == KblMetrics.MeterName && instrument.Name == "kbl.aggregate.pages")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "colony" && (string?)tag.Value == _colony)
                    {
                        var count = Interlocked.Add(ref _count, value);
                        OnPage?.Invoke(count);
                    }
                }
            });
            _listener.Start();
        }

        public Action<long>? OnPage { get; set; }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
