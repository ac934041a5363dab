using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.Tests.Process;

/// <summary>
/// The gateway's bounds on a real silo process: scan pages of 1 MiB values bounded by bytes (HTTP and gRPC), one
/// request at a time (<c>Kbl:Gateway:MaxConcurrentRequests=1</c>: a saturated silo answers 429 / RESOURCE_EXHAUSTED
/// at once and recovers), and a colony with a quota of 2 requests per second.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class GatewayBoundsTests(GatewayBoundsTests.BoundedSilo fixture) : IClassFixture<GatewayBoundsTests.BoundedSilo>, IDisposable
{
    private const int ValueBytes = 1024 * 1024;
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);

    private HttpClient Http => fixture.Http;

    private ColonyService.ColonyServiceClient Grpc => new(_channel);

    [Fact]
    public async Task A_range_of_1_MiB_values_scans_in_pages_of_at_most_4_MiB_over_HTTP_and_whole_over_gRPC()
    {
        await Http.PutAsync("/v1/colonies/large", JsonContent.Create(new { }));
        for (var i = 0; i < 10; i++)
        {
            (await Http.PutAsync($"/v1/colonies/large/records/L{i}", new ByteArrayContent(Value(i)))).EnsureSuccessStatusCode();
        }

        // limit=1000 asks for every record; 4 MiB of keys and values make a page of three.
        var pages = new List<int>();
        var seen = new List<(string Key, byte[] Value)>();
        string? cursor = null;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/large/records?limit=1000{(cursor is null ? "" : $"&cursor={cursor}")}");
            var records = page.GetProperty("records").EnumerateArray().ToList();
            pages.Add(records.Count);
            seen.AddRange(records.Select(r => (r.GetProperty("key").GetString()!, Convert.FromBase64String(r.GetProperty("valueBase64").GetString()!))));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);

        Assert.Equal([3, 3, 3, 1], pages);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"L{i}"), seen.Select(s => s.Key));
        Assert.All(seen, s => Assert.True(Value(s.Key[1] - '0').AsSpan().SequenceEqual(s.Value), $"the value of {s.Key} changed"));

        // gRPC streams record by record: the whole range in one call, each value intact.
        using var call = Grpc.Scan(new ScanRequest { Colony = "large" });
        var streamed = await call.ResponseStream.ReadAllAsync().ToListAsync();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => $"L{i}"), streamed.Select(r => r.Key));
        Assert.All(streamed, r => Assert.True(Value(r.Key[1] - '0').AsSpan().SequenceEqual(r.Value.Span), $"the value of {r.Key} changed"));
    }

    [Fact]
    public async Task A_saturated_silo_refuses_at_once_with_429_or_RESOURCE_EXHAUSTED_and_recovers()
    {
        await Http.PutAsync("/v1/colonies/busy", JsonContent.Create(new { }));

        // A PUT whose body is still arriving holds the silo's one request permit.
        var release = new TaskCompletionSource();
        var held = Http.PutAsync("/v1/colonies/busy/records/held", new HeldContent(release.Task));
        var refused = await Eventually.Until(
            () => Http.GetAsync("/v1/colonies/busy/records/held"), r => r.StatusCode == HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(20), "a 429 while the PUT is held");

        Assert.Equal("1", refused.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("at once", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        var grpcRefused = await Assert.ThrowsAsync<RpcException>(() => Grpc.GetAsync(new GetRequest { Colony = "busy", Key = "held" }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, grpcRefused.StatusCode);
        Assert.Contains("at once", grpcRefused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/healthz")).StatusCode); // probes are never refused

        release.SetResult();
        Assert.Equal(HttpStatusCode.OK, (await held).StatusCode);
        var read = await Http.GetAsync("/v1/colonies/busy/records/held");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal("held value", await read.Content.ReadAsStringAsync());
        Assert.Equal("held value", (await Grpc.GetAsync(new GetRequest { Colony = "busy", Key = "held" })).Value.ToStringUtf8());
    }

    [Fact]
    public async Task A_colony_over_its_quota_is_refused_with_Retry_After_and_recovers_while_others_go_on()
    {
        await Http.PutAsync("/v1/colonies/throttled", JsonContent.Create(new { }));
        await Http.PutAsync("/v1/colonies/free", JsonContent.Create(new { }));

        // A quota of 2 requests per second holds a burst of 2 and refills one every half second: of 6 requests in
        // a row, some are refused.
        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++)
        {
            answers.Add(await Http.GetAsync("/v1/colonies/throttled"));
        }

        var refused = answers.First(a => a.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 2);
        Assert.Contains("colony 'throttled' is over its quota of 2 requests per second", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        // Other colonies have no quota here.
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/v1/colonies/free")).StatusCode);
        }

        await Eventually.Until(() => Http.GetAsync("/v1/colonies/throttled"), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "the quota refilled");

        // gRPC calls take from the same quota.
        var statuses = new List<StatusCode>();
        string? detail = null;
        for (var i = 0; i < 6; i++)
        {
            try
            {
                await Grpc.GetColonyAsync(new GetColonyRequest { Colony = "throttled" });
                statuses.Add(StatusCode.OK);
            }
            catch (RpcException e)
            {
                statuses.Add(e.StatusCode);
                detail = e.Status.Detail;
            }
        }

        Assert.Contains(StatusCode.ResourceExhausted, statuses);
        Assert.DoesNotContain(statuses, s => s is not (StatusCode.OK or StatusCode.ResourceExhausted));
        Assert.Contains("quota", detail, StringComparison.Ordinal);
        await Eventually.Until(() => Http.GetAsync("/v1/colonies/throttled"), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "the quota refilled again");
    }

    [Theory]
    [InlineData("--Kbl:Gateway:ColonyQuotas:Not_A_Colony=5", "Kbl:Gateway:ColonyQuotas:Not_A_Colony")]
    [InlineData("--Kbl:Gateway:ColonyQuotas:orders=-1", "Kbl:Gateway:ColonyQuotas:orders")]
    [InlineData("--Kbl:Gateway:MaxScanPageBytes=10", "Kbl:Gateway:MaxScanPageBytes")]
    [InlineData("--Kbl:Gateway:MaxConcurrentRequests=-1", "Kbl:Gateway:MaxConcurrentRequests")]
    [InlineData("--Kbl:AggregatePageRecords=0", "Kbl:AggregatePageRecords")]
    public async Task A_bad_bound_stops_the_silo_with_one_line(string argument, string named)
    {
        var (exitCode, _, stderr) = await SiloProcess.RunToExit(argument);
        Assert.Equal(2, exitCode);
        Assert.Contains(named, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    public void Dispose() => _channel.Dispose();

    /// <summary>Value <paramref name="i"/>: 1 MiB of bytes that are not UTF-8 (so HTTP returns them as <c>valueBase64</c>), its index first.</summary>
    private static byte[] Value(int i)
    {
        var value = new byte[ValueBytes];
        value.AsSpan().Fill((byte)(0x80 + i));
        value[0] = (byte)i;
        return value;
    }

    /// <summary>A 10-byte body that sends its first byte, then the rest only once <paramref name="release"/> completes.</summary>
    private sealed class HeldContent(Task release) : HttpContent
    {
        private static readonly byte[] Body = "held value"u8.ToArray();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Body.AsMemory(0, 1));
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(Body.AsMemory(1));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = Body.Length;
            return true;
        }
    }

    /// <summary>A silo taking 1 MiB values, serving one request at a time, with a quota of 2 requests per second on colony <c>throttled</c>.</summary>
    public sealed class BoundedSilo : SiloProcessFixture
    {
        protected override string Name => "bounded-silo";

        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Kbl:Gateway:MaxValueBytes"] = ValueBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kbl:Gateway:MaxConcurrentRequests"] = "1",
            ["Kbl:Gateway:ColonyQuotas:throttled"] = "2",
        };
    }
}
