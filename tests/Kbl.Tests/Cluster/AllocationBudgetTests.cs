using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;
using Kbl.Records;
using Kbl.Silo.Gateway;
using Kbl.Silo.Routing;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace Kbl.Tests.Cluster;

/// <summary>
/// What one GET and one PUT allocate on the hot path in one silo — the gateway's checks, the route cache, the grain
/// call, the leaf and its record store — held to a budget, so an allocation added to the path fails CI instead of
/// going unnoticed. Allocations, unlike timings, are deterministic enough to check in a test: each figure is the
/// least of a few rounds of thousands of requests (all threads counted, so the silo's own background work is in the
/// noise). The budgets are the figures measured when they were set plus about a fifth (docs/benchmarks.md).
/// </summary>
[Trait("Category", Category.Cluster)]
public sealed class AllocationBudgetTests(AllocationBudgetTests.OneSilo fixture, ITestOutputHelper output) : IClassFixture<AllocationBudgetTests.OneSilo>
{
    /// <summary>Bytes one GET of a 100-byte value may allocate, gateway to store and back.</summary>
    public const long GetBudget = 3_000;

    /// <summary>Bytes one PUT of a 100-byte value may allocate (group commit on, one request at a time).</summary>
    public const long PutBudget = 7_000;

    private const int Requests = 4_000;

    [Fact]
    public async Task A_get_allocates_within_its_budget()
    {
        var (gateway, colony) = await Colony("alloc-get");
        var keys = Keys();
        foreach (var key in keys)
        {
            await gateway.Put(colony, key, Value, Precondition.None);
        }

        var bytes = await PerRequest(async i => await gateway.Get(colony, keys[i % keys.Length]));
        output.WriteLine($"GET: {bytes} bytes allocated per request (budget {GetBudget})");
        Assert.True(bytes <= GetBudget, $"a GET allocates {bytes} bytes, over its budget of {GetBudget}: find what the change added to the path, or raise the budget with the reason (docs/benchmarks.md)");
    }

    [Fact]
    public async Task A_put_allocates_within_its_budget()
    {
        var (gateway, colony) = await Colony("alloc-put");
        var keys = Keys();
        var bytes = await PerRequest(async i => await gateway.Put(colony, keys[i % keys.Length], Value, Precondition.None));
        output.WriteLine($"PUT: {bytes} bytes allocated per request (budget {PutBudget})");
        Assert.True(bytes <= PutBudget, $"a PUT allocates {bytes} bytes, over its budget of {PutBudget}: find what the change added to the path, or raise the budget with the reason (docs/benchmarks.md)");
    }

    private static readonly byte[] Value = Encoding.ASCII.GetBytes(new string('v', 100));

    private static byte[][] Keys() => [.. Enumerable.Range(0, 1_000).Select(i => KeyOrder.Encode($"key-{i:d12}"))];

    /// <summary>A gateway inside the silo (as the HTTP and gRPC surfaces call it), and a one-copy colony that never divides.</summary>
    private async Task<(ColonyGateway Gateway, string Colony)> Colony(string colony)
    {
        var grains = fixture.GrainsOn("silo-0");
        var options = Options.Create(new KblGatewayOptions());
        var gateway = new ColonyGateway(new ColonyRouter(grains), grains, options, new ColonyQuotas(options));
        await grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath))
            .Configure(Genome.Default with { Redundancy = Redundancy.None, SplitKeys = 1_000_000, SplitOpsPerSecond = 1e9 });
        return (gateway, colony);
    }

    /// <summary>The least, over three rounds after a warm-up, of the bytes allocated (every thread) per request.</summary>
    private static async Task<long> PerRequest(Func<int, Task> request)
    {
        for (var i = 0; i < Requests; i++)
        {
            await request(i); // warm-up: tiered JIT, caches, pools
        }

        var least = long.MaxValue;
        for (var round = 0; round < 3; round++)
        {
            GC.Collect();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < Requests; i++)
            {
                await request(i);
            }

            least = Math.Min(least, (GC.GetTotalAllocatedBytes(precise: true) - before) / Requests);
        }

        return least;
    }

    /// <summary>One silo, feedback once a minute and no rebalancing: as little background work as a silo has.</summary>
    public sealed class OneSilo() : KblTestCluster(1, "alloc")
    {
        protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
        {
            options.FeedbackPeriod = TimeSpan.FromMinutes(1);
            return (options, new KblPlacementOptions { RebalancePeriod = TimeSpan.Zero });
        }
    }
}
