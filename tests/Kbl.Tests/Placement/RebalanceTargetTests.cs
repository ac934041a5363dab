using Kbl.Placement;

namespace Kbl.Tests.Placement;

/// <summary>Where the rebalancer sends a leaf: a silo it evens out, one holding an in-sync copy first (a hand-over copies nothing).</summary>
[Trait("Category", Category.Unit)]
public sealed class RebalanceTargetTests
{
    private static readonly Dictionary<string, int> Counts = new() { ["a"] = 6, ["b"] = 1, ["c"] = 3, ["d"] = 5 };

    [Fact]
    public void A_silo_holding_an_in_sync_copy_goes_first_when_the_move_evens_things_out()
    {
        Assert.Equal("c", KblRebalancer.Target(Counts, "a", ["c"]));
        Assert.Equal("b", KblRebalancer.Target(Counts, "a", ["b", "c"]));
    }

    [Fact]
    public void Without_a_copy_on_a_silo_it_evens_out_the_leaf_goes_to_the_least_loaded()
    {
        Assert.Equal("b", KblRebalancer.Target(Counts, "a", []));
        Assert.Equal("b", KblRebalancer.Target(Counts, "a", ["d"])); // d would end with as many leaves as a keeps
    }

    [Fact]
    public void No_move_when_none_evens_anything_out()
    {
        Assert.Null(KblRebalancer.Target(Counts, "b", ["c"])); // the least loaded silo keeps its leaves
        Assert.Null(KblRebalancer.Target(new Dictionary<string, int> { ["a"] = 2, ["b"] = 1 }, "a", ["b"])); // b would end as loaded as a was
    }
}
