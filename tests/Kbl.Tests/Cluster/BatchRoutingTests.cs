using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Silo.Routing;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>
/// The batch path of the route cache (<see cref="ColonyRouter.WriteMany"/>, <see cref="ColonyRouter.GetMany"/>): one
/// grain call per leaf a batch touches, writes of one key applied in the batch's order, and batches sent on stale
/// routes (the colony divided since the cache learnt it) still reaching every key.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class BatchRoutingTests(ClusterFixture fixture)
{
    private IKblGrain Root(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));

    [Fact]
    public async Task A_batch_takes_one_call_per_leaf_and_reads_back_what_it_wrote()
    {
        const string colony = "batch-leaves";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 100, MergeKeys = 5, Hysteresis = TimeSpan.FromHours(1) });
        var keys = Enumerable.Range(0, 600).Select(i => $"b{i * 7 % 600:d4}").ToList();
        foreach (var chunk in keys.Chunk(200))
        {
            var written = await fixture.Router.WriteMany(colony, [.. chunk.Select(k => Put(k, $"v-{k}"))]);
            Assert.All(written, w => Assert.Equal(KblStatus.Ok, w.Reply?.Status));
        }

        // The divisions the load asked for have finished: every leaf within the genome's size, the same leaves twice.
        var leaves = await Eventually.Until(
            async () => TreeWalk.Leaves(await Root(colony).GetTree()).ToList(),
            l => l.Count > 3 && l.All(v => v.Feedback.Keys <= 100) && l.Sum(v => v.Feedback.Keys) == keys.Count,
            TimeSpan.FromSeconds(30),
            "the colony's divisions");

        // A cache that knows the leaves (a first batch taught it) sends one call to each of them, whatever the order.
        var router = new ColonyRouter(fixture.Grains);
        await router.GetMany(colony, [.. keys.Select(KeyOrder.Encode)]);
        var (_, before) = router.Hops;
        var read = await router.GetMany(colony, [.. keys.Select(KeyOrder.Encode)]);
        var calls = router.Hops.Calls - before;
        Assert.Equal(leaves.Count, TreeWalk.Leaves(await Root(colony).GetTree()).Count());
        Assert.Equal(leaves.Count, calls);
        Assert.Equal(keys.Select(k => $"v-{k}"), read.Select(r => Encoding.UTF8.GetString(r.Reply!.Value!)));
    }

    [Fact]
    public async Task Writes_of_one_key_apply_in_the_batchs_order_each_under_its_own_condition()
    {
        const string colony = "batch-order";
        await Root(colony).Configure(Genome.Default);
        var results = await fixture.Router.WriteMany(colony,
        [
            Put("x", "1"),
            Put("x", "2"),
            new RecordWrite(KeyOrder.Encode("x"), null, Precondition.None),
            Put("x", "3", new Precondition(null, IfNoneMatch: true, IfExists: false)), // holds: the delete before it
            Put("y", "a", new Precondition(IfMatch: 99, false, false)),                 // no such version
            Put("x", "4", new Precondition(null, IfNoneMatch: true, IfExists: false)), // fails: "3" is there now
        ]);

        Assert.Equal(
            [KblStatus.Ok, KblStatus.Ok, KblStatus.Ok, KblStatus.Ok, KblStatus.PreconditionFailed, KblStatus.PreconditionFailed],
            results.Select(r => r.Reply!.Status));
        var versions = results.Take(4).Select(r => r.Reply!.Version).ToList();
        Assert.Equal(versions.Order(), versions);
        Assert.Equal(versions.Count, versions.Distinct().Count());
        Assert.Equal(versions[3], results[5].Reply!.Version); // the failed condition names the version that stopped it

        var read = await fixture.Router.GetMany(colony, [KeyOrder.Encode("x"), KeyOrder.Encode("y"), KeyOrder.Encode("x")]);
        Assert.Equal([KblStatus.Ok, KblStatus.NotFound, KblStatus.Ok], read.Select(r => r.Reply!.Status));
        Assert.Equal("3", Encoding.UTF8.GetString(read[0].Reply!.Value!));
    }

    [Fact]
    public async Task A_batch_on_routes_from_before_a_division_reaches_every_key()
    {
        const string colony = "batch-stale";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 50, MergeKeys = 2, Hysteresis = TimeSpan.FromHours(1) });

        // This cache learns the colony as one leaf; then the colony divides through another gateway's writes.
        var stale = new ColonyRouter(fixture.Grains);
        Assert.Equal(KblStatus.Ok, (await stale.WriteMany(colony, [Put("s0000", "first")])).Single().Reply!.Status);
        for (var i = 0; i < 300; i++)
        {
            var key = KeyOrder.Encode($"s{i:d4}");
            Assert.Equal(KblStatus.Ok, (await fixture.Router.Write(colony, new RecordWrite(key, key, Precondition.None))).Status);
        }

        // Until it is done dividing (every leaf within SplitKeys): the calls below are counted against its leaves
        // after the batch, and a division still going on would leave more leaves than the batch found (cc57).
        await Eventually.Until(
            async () => TreeWalk.Leaves(await Root(colony).GetTree()).ToList(),
            l => l.Count > 3 && l.All(v => v.Feedback.Keys <= 50) && l.Sum(v => v.Feedback.Keys) == 300,
            TimeSpan.FromSeconds(30),
            "the division");

        var (_, before) = stale.Hops;
        var written = await stale.WriteMany(colony, [.. Enumerable.Range(0, 300).Select(i => Put($"s{i:d4}", $"again{i}"))]);
        Assert.All(written, w => Assert.Equal(KblStatus.Ok, w.Reply?.Status));

        // Regrouped by what the moved KBLs said, a level a round: a few calls per KBL of the tree, not one per key.
        var leaves = TreeWalk.Leaves(await Root(colony).GetTree()).Count();
        Assert.InRange(stale.Hops.Calls - before, leaves, 4 * leaves);
        var read = await fixture.Router.GetMany(colony, [.. Enumerable.Range(0, 300).Select(i => KeyOrder.Encode($"s{i:d4}"))]);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"again{i}"), read.Select(r => Encoding.UTF8.GetString(r.Reply!.Value!)));
    }

    private static RecordWrite Put(string key, string value, Precondition? condition = null) =>
        new(KeyOrder.Encode(key), Encoding.UTF8.GetBytes(value), condition ?? Precondition.None);
}
