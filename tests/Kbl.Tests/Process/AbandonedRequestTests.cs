using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.Tests.Process;

/// <summary>
/// An aggregate or scan its client abandons — an HTTP request whose connection closes, a cancelled gRPC call — stops
/// in the silo: the colony's root, whose turn an aggregate holds, answers again long before the aggregate could have
/// finished, and the leaves' page counters (<c>kbl_aggregate_pages_total</c>, <c>kbl_scan_pages_total</c> on
/// <c>/metrics</c>) show how far it got. The silo's leaves aggregate one record a turn (<c>Kbl:AggregatePageRecords=1</c>)
/// and the gateway reads scans in leaf pages of one record (<c>Kbl:Gateway:MaxScanPage=1</c>), so a whole aggregate or
/// scan of the colony takes one page per record.
/// </summary>
[Trait("Category", Category.Process)]
public sealed partial class AbandonedRequestTests(AbandonedRequestTests.PagedSilo fixture) : IClassFixture<AbandonedRequestTests.PagedSilo>, IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);

    private HttpClient Http => fixture.Http;

    [Theory]
    [InlineData("http")]
    [InlineData("grpc")]
    public async Task An_abandoned_aggregate_stops_in_the_silo_and_frees_the_colony(string protocol)
    {
        // Once the leaves are paging, the client goes away. The answer may still win that race (the aggregate ended
        // just as the client gave up): that is no abandonment, and the client tries again, three times at most.
        long before;
        for (var attempt = 1; ; attempt++)
        {
            before = await Pages();
            using var abandon = new CancellationTokenSource();
            Task aggregate = protocol == "http"
                ? Http.PostAsync($"/v1/colonies/{PagedSilo.Colony}/aggregate", JsonContent.Create(new { op = "count" }), abandon.Token)
                : new ColonyService.ColonyServiceClient(_channel).AggregateAsync(new AggregateRequest { Colony = PagedSilo.Colony, Op = "count" }, cancellationToken: abandon.Token).ResponseAsync as Task;
            var started = await Eventually.Until(Pages, p => p > before || aggregate.IsCompleted, TimeSpan.FromSeconds(30), "the aggregate's first pages");
            if (!aggregate.IsCompleted)
            {
                await abandon.CancelAsync();
                if (await Task.WhenAny(aggregate) is { IsCompletedSuccessfully: false })
                {
                    break; // abandoned
                }
            }

            Assert.True(attempt < 3, $"the aggregate finished before it could be abandoned, three times ({started - before} pages seen the last time)");
        }

        // The root answers again (an aggregate holds its turn until it ends), and by then the aggregate had run only
        // part of its pages: it stopped, rather than running on for no one.
        (await Http.GetAsync($"/v1/colonies/{PagedSilo.Colony}/tree?depth=0")).EnsureSuccessStatusCode();
        var stopped = await Pages() - before;
        Assert.True(stopped < PagedSilo.Records, $"the abandoned aggregate ran {stopped} of its {PagedSilo.Records} pages");

        // The colony is whole and answers a complete aggregate.
        var whole = await Http.PostAsync($"/v1/colonies/{PagedSilo.Colony}/aggregate", JsonContent.Create(new { op = "count" }));
        whole.EnsureSuccessStatusCode();
        Assert.Equal(PagedSilo.Records, (await whole.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("records").GetInt64());
    }

    [Fact]
    public async Task An_abandoned_gRPC_scan_stops_in_the_silo()
    {
        const string scanRoute = "http_route=\"/kbl.v1.ColonyService/Scan\"";
        var before = await ScanPages();
        var scansEnded = await Metric(RequestsEnded(), scanRoute);
        using var abandon = new CancellationTokenSource();
        using var scan = new ColonyService.ColonyServiceClient(_channel).Scan(new ScanRequest { Colony = PagedSilo.Colony }, cancellationToken: abandon.Token);

        // The first record arrives, then the client goes away without reading the rest.
        Assert.True(await scan.ResponseStream.MoveNext(abandon.Token));
        var first = scan.ResponseStream.Current.Key;
        await abandon.CancelAsync();

        // The call ends in the silo (ASP.NET Core counts a request in its duration histogram when it has ended), and by
        // then its leaves had served only part of the colony's pages: the scan stopped rather than read on for no one.
        await Eventually.Until(() => Metric(RequestsEnded(), scanRoute), n => n > scansEnded, TimeSpan.FromSeconds(30), "the abandoned scan's end in the silo");
        var stopped = await ScanPages() - before;
        Assert.InRange(stopped, 1, PagedSilo.Records - 1);

        // A scan that continues where the client left off streams the next records.
        using var resumed = new ColonyService.ColonyServiceClient(_channel).Scan(new ScanRequest { Colony = PagedSilo.Colony, After = first, Limit = 10 });
        var keys = await resumed.ResponseStream.ReadAllAsync().Select(r => r.Key).ToListAsync();
        Assert.Equal(Enumerable.Range(1, 10).Select(i => $"k{i:d5}"), keys);
    }

    public void Dispose() => _channel.Dispose();

    /// <summary>The pages the colony's leaves have aggregated so far, from the silo's Prometheus metrics.</summary>
    private Task<long> Pages() => Metric(AggregatePageCounter(), $"colony=\"{PagedSilo.Colony}\"");

    /// <summary>The scan pages the colony's leaves have served so far (one per record: the gateway reads leaf pages of one record).</summary>
    private Task<long> ScanPages() => Metric(ScanPageCounter(), $"colony=\"{PagedSilo.Colony}\"");

    /// <summary>The sum of <paramref name="metric"/>'s series whose labels contain <paramref name="label"/>.</summary>
    private async Task<long> Metric(Regex metric, string label)
    {
        var metrics = await Http.GetStringAsync("/metrics");
        return metric.Matches(metrics)
            .Where(m => m.Groups["labels"].Value.Contains(label, StringComparison.Ordinal))
            .Sum(m => (long)double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"^kbl_aggregate_pages_total\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex AggregatePageCounter();

    [GeneratedRegex(@"^kbl_scan_pages_total\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex ScanPageCounter();

    [GeneratedRegex(@"^http_server_request_duration_seconds_count\{(?<labels>[^}]*)\} (?<value>[0-9.e+]+)", RegexOptions.Multiline)]
    private static partial Regex RequestsEnded();

    /// <summary>
    /// A silo whose leaves aggregate one record a turn, with colony <see cref="Colony"/>: <see cref="Records"/>
    /// records under a root that has divided (so an aggregate holds the root's turn while its leaves page).
    /// </summary>
    public sealed class PagedSilo : SiloProcessFixture
    {
        public const string Colony = "abandoned";
        /// <summary>
        /// Enough pages that a whole aggregate outlasts a scrape of <c>/metrics</c> by far: at 20,000 an aggregate
        /// sometimes ended before the test saw its first pages, once the grain calls got cheaper.
        /// </summary>
        public const int Records = 100_000;

        protected override string Name => "paged-silo";

        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Kbl:AggregatePageRecords"] = "1",
            ["Kbl:Gateway:MaxScanPage"] = "1",
        };

        protected override TimeSpan Timeout => TimeSpan.FromMinutes(2);

        protected override async Task Prepare()
        {
            (await Http.PutAsync($"/v1/colonies/{Colony}", JsonContent.Create(new { splitKeys = Records / 2, mergeKeys = 1, fanOut = 2 }))).EnsureSuccessStatusCode();

            using var channel = GrpcChannel.ForAddress(Silo.GrpcAddress);
            using var load = new ColonyService.ColonyServiceClient(channel).PutMany();
            foreach (var batch in Enumerable.Range(0, Records).Chunk(1000))
            {
                var request = new PutManyRequest { Colony = Colony };
                request.Writes.AddRange(batch.Select(i => new BatchWrite { Key = $"k{i:d5}", Value = ByteString.CopyFromUtf8("{}") }));
                await load.RequestStream.WriteAsync(request);
                if (!await load.ResponseStream.MoveNext() || load.ResponseStream.Current.Results.Any(r => r.Code != 0))
                {
                    throw new InvalidOperationException($"loading the colony failed: {load.ResponseStream.Current}");
                }
            }

            await load.RequestStream.CompleteAsync();
            await Eventually.Until(
                () => Http.GetStringAsync($"/v1/colonies/{Colony}/tree?depth=0"), t => t.Contains("\"interior\"", StringComparison.OrdinalIgnoreCase), TimeSpan.FromSeconds(60), "the root's division");
        }
    }
}
