using CsCheck;
using Kbl.Provisioning;

namespace Kbl.Tests.Provisioning;

/// <summary>The provisioning policy on its own: deterministic steps over chosen and generated demand.</summary>
[Trait("Category", Category.Unit)]
public sealed class ProvisioningPolicyTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static ProvisioningPolicyOptions Options() => new()
    {
        OpsPerNode = 1_000,
        TargetUtilisation = 0.5, // 500 ops/s per planned node
        ScaleDownCoolDown = TimeSpan.FromMinutes(5),
        MaxNodesPerGroup = 10,
        MaxNodeGroups = 4,
        HotSubtreeShare = 0.3,
    };

    private static ColonyDemand Colony(string name, double ops, string group = "default", int floor = 1, params SubtreeDemand[] subtrees) =>
        new(name, group, ops, 1_000, 10, floor, subtrees);

    [Fact]
    public void A_group_grows_to_its_need_in_one_step_and_says_why()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();
        var first = policy.Step(state, [Colony("c", 100)], T0, ["default"]);
        Assert.Equal(1, first.Desired.Group("default")!.Desired);
        Assert.Equal(1, first.Desired.Generation);

        var hot = policy.Step(state, [Colony("c", 1_600)], T0.AddSeconds(10));
        Assert.True(hot.Changed);
        Assert.Equal(2, hot.Desired.Generation);
        Assert.Equal(4, hot.Desired.Group("default")!.Desired); // 1,600 / 500 → 4
        var decision = Assert.Single(hot.Decisions);
        Assert.Equal("scale up 1 → 4", decision.Change);
        Assert.Contains("1600 ops/s", decision.Reason, StringComparison.Ordinal);
        Assert.Equal(["c"], hot.Desired.Group("default")!.Subtrees);
    }

    [Fact]
    public void A_group_shrinks_only_after_the_cool_down_to_the_highest_need_meanwhile()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();
        policy.Step(state, [Colony("c", 4_000)], T0); // 8 nodes
        var t = T0;
        foreach (var (seconds, ops) in new[] { (60, 100.0), (120, 1_400.0), (240, 100.0) })
        {
            t = T0.AddSeconds(seconds);
            var quiet = policy.Step(state, [Colony("c", ops)], t);
            Assert.False(quiet.Changed);
            Assert.Equal(8, quiet.Desired.Group("default")!.Desired);
        }

        var down = policy.Step(state, [Colony("c", 100)], T0.AddMinutes(5));
        Assert.True(down.Changed);
        Assert.Equal(3, down.Desired.Group("default")!.Desired); // the 1,400 ops/s seen during the cool-down
        Assert.Equal("scale down 8 → 3", Assert.Single(down.Decisions).Change);

        var floor = policy.Step(state, [Colony("c", 0, floor: 2)], T0.AddMinutes(11));
        Assert.Equal(2, floor.Desired.Group("default")!.Desired); // never below the redundancy floor
        Assert.Equal(2, floor.Desired.Group("default")!.Min);
    }

    [Fact]
    public void A_sleeping_group_that_may_go_to_zero_does_after_the_cool_down_and_a_waiting_request_brings_a_node_back_at_once()
    {
        var options = Options();
        options.GroupMinNodes["cold"] = 0;
        var policy = new ProvisioningPolicy(options);
        var state = new PolicyState();
        var awake = new ColonyDemand("c", "cold", 10, 1_000, 1, 2, []);
        Assert.Equal(2, policy.Step(state, [awake], T0, ["cold", "default"]).Desired.Group("cold")!.Desired);

        // Every leaf hibernated: the colony reports no KBL, no byte and no floor (KblGrain.Demand).
        var asleep = new ColonyDemand("c", "cold", 0, 0, 0, 0, []);
        Assert.Equal(2, policy.Step(state, [asleep], T0.AddMinutes(1), ["cold", "default"]).Desired.Group("cold")!.Desired);
        var zero = policy.Step(state, [asleep], T0.AddMinutes(6), ["cold", "default"]);
        Assert.Equal((0, 0), (zero.Desired.Group("cold")!.Desired, zero.Desired.Group("cold")!.Min));
        Assert.Equal("scale down 2 → 0", Assert.Single(zero.Decisions).Change);
        Assert.Equal(1, zero.Desired.Group("default")!.Desired); // the other groups keep the global minimum

        // A request waits for the group (a wake): one node at once, kept for a cool-down after it asked.
        var wanted = new Dictionary<string, DateTimeOffset> { ["cold"] = T0.AddMinutes(7) };
        var woken = policy.Step(state, [asleep], T0.AddMinutes(7), ["cold", "default"], wanted);
        Assert.Equal(1, woken.Desired.Group("cold")!.Desired);
        Assert.Contains("a request waits", Assert.Single(woken.Decisions).Reason, StringComparison.Ordinal);
        Assert.Equal(1, policy.Step(state, [asleep], T0.AddMinutes(11), ["cold", "default"], wanted).Desired.Group("cold")!.Desired);
        Assert.Equal(0, policy.Step(state, [asleep], T0.AddMinutes(17), ["cold", "default"], wanted).Desired.Group("cold")!.Desired);
    }

    [Fact]
    public void A_subtree_moved_to_another_group_counts_there_with_the_colonys_floor_until_it_sleeps()
    {
        var options = Options();
        options.GroupMinNodes["b"] = 0;
        var policy = new ProvisioningPolicy(options);
        var state = new PolicyState();

        // The root is in group default; a subtree of one leaf was moved to group b (POST …/move).
        ColonyDemand Split(int awakeInB) => new("c", "default", 1_600, 3_000, 3, 2, []) { Groups = [new("default", 600, 2_000, 2), new("b", 1_000, 1_000, awakeInB)] };
        var step = policy.Step(state, [Split(1)], T0);
        Assert.Equal(2, step.Desired.Group("default")!.Desired); // 600 ops/s → 2 nodes (500 per node), and the floor
        Assert.Equal((2, 2), (step.Desired.Group("b")!.Desired, step.Desired.Group("b")!.Min)); // 1,000 ops/s; the colony's two copies need two silos there too
        Assert.Equal(["c"], step.Desired.Group("b")!.Subtrees);
        var demand = policy.Demand(state, [Split(1)]).ToDictionary(d => d.NodeGroup);
        Assert.Equal((600.0, 2_000L, 2), (demand["default"].OpsPerSecond, demand["default"].Bytes, demand["default"].Kbls));
        Assert.Equal((1_000.0, 1_000L, 1), (demand["b"].OpsPerSecond, demand["b"].Bytes, demand["b"].Kbls));

        // Its leaf in b hibernates: b keeps no node for it once the cool-down is over; default keeps its own.
        var asleep = new ColonyDemand("c", "default", 600, 2_000, 2, 2, []) { Groups = [new("default", 600, 2_000, 2)] };
        policy.Step(state, [asleep], T0.AddMinutes(1));
        var later = policy.Step(state, [asleep], T0.AddMinutes(6));
        Assert.Equal((0, 2), (later.Desired.Group("b")!.Desired, later.Desired.Group("default")!.Desired));
    }

    [Fact]
    public void A_sleeping_group_keeps_its_minimum_unless_it_may_go_to_zero()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();
        policy.Step(state, [new ColonyDemand("c", "cold", 10, 1_000, 1, 2, [])], T0);
        var asleep = policy.Step(state, [new ColonyDemand("c", "cold", 0, 0, 0, 0, [])], T0.AddMinutes(6));
        Assert.Equal(1, asleep.Desired.Group("cold")!.Desired); // MinNodes 1
    }

    [Fact]
    public void The_per_group_quota_caps_a_group_and_the_reason_says_so()
    {
        var options = Options();
        options.HotSubtreeShare = 0;
        var step = new ProvisioningPolicy(options).Step(new PolicyState(), [Colony("c", 50_000)], T0);
        var group = step.Desired.Group("default")!;
        Assert.Equal(10, group.Desired);
        Assert.Equal(10, group.Max);
        Assert.Contains("capped at the quota of 10", Assert.Single(step.Decisions).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_held_to_one_node_adds_no_node_nor_group_for_load_but_floors_still_count()
    {
        // The local provider's silos share one machine's cores: load asks for one node at most.
        var options = Options();
        options.MaxNodesForLoad = 1;
        var policy = new ProvisioningPolicy(options);
        var state = new PolicyState();
        SubtreeDemand[] hot = [new("r.0", 500, 100, 3), new("r.1", 50_000, 100, 3)];
        var first = policy.Step(state, [Colony("c", 50_500, subtrees: hot)], T0, ["default"]);
        Assert.Equal(1, first.Desired.Group("default")!.Desired);
        Assert.Contains("held to MaxNodesForLoad 1", Assert.Single(first.Decisions).Reason, StringComparison.Ordinal);
        Assert.Single(first.Desired.Groups); // no group of its own for the hot subtree: it would share the same cores

        // Saturated (50,500 ops/s on a 1,000 ops/s node): no doubling either.
        var saturated = policy.Step(state, [Colony("c", 50_500, subtrees: hot)], T0.AddSeconds(10), ["default"]);
        Assert.False(saturated.Changed);
        Assert.Equal(1, saturated.Desired.Group("default")!.Desired);

        // A redundancy floor is not load: two copies need two silos, on one machine as on many.
        var mirrored = policy.Step(state, [Colony("c", 50_500, floor: 2, subtrees: hot)], T0.AddSeconds(20), ["default"]);
        Assert.Equal(2, mirrored.Desired.Group("default")!.Desired);

        // Held to three: load grows a group to three nodes and saturation doubles only up to them.
        options.MaxNodesForLoad = 3;
        var held = new ProvisioningPolicy(options);
        var small = new PolicyState();
        Assert.Equal(1, held.Step(small, [Colony("c", 400, subtrees: hot)], T0, ["default"]).Desired.Group("default")!.Desired);
        Assert.Equal(3, held.Step(small, [Colony("c", 50_500, subtrees: hot)], T0.AddSeconds(10), ["default"]).Desired.Group("default")!.Desired);
        var stillSaturated = held.Step(small, [Colony("c", 50_500, subtrees: hot)], T0.AddSeconds(20), ["default"]);
        Assert.False(stillSaturated.Changed); // saturated at three: no doubling past them
        Assert.Equal(3, stillSaturated.Desired.Group("default")!.Desired);
    }

    [Fact]
    public void A_saturated_group_gives_its_hot_subtree_a_group_of_its_own_and_takes_it_back_when_it_cools()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();
        SubtreeDemand[] hotSubtrees = [new("r.0", 500, 100, 3), new("r.1", 5_000, 100, 3)];
        var step = policy.Step(state, [Colony("c", 6_000, subtrees: hotSubtrees)], T0);
        var dedicated = ProvisioningPolicy.DedicatedGroupName("c", "r.1");
        var group = step.Desired.Group(dedicated);
        Assert.NotNull(group);
        Assert.Equal(["c/r.1"], group.Subtrees);
        Assert.Equal("true", group.Labels["kbl.io/dedicated"]);
        Assert.Equal(10, group.Desired); // 5,000 ops/s → 10 nodes
        Assert.Equal(2, step.Desired.Group("default")!.Desired); // what stays: 1,000 ops/s
        Assert.Contains(step.Decisions, d => d.NodeGroup == dedicated && d.Change == "dedicate to c/r.1");

        // Cool: the subtree would fit back; after the cool-down its group goes and the subtree returns.
        SubtreeDemand[] cool = [new("r.0", 50, 100, 3), new("r.1", 50, 100, 3)];
        Assert.NotNull(policy.Step(state, [Colony("c", 100, subtrees: cool)], T0.AddMinutes(1)).Desired.Group(dedicated));
        var back = policy.Step(state, [Colony("c", 100, subtrees: cool)], T0.AddMinutes(6));
        Assert.Null(back.Desired.Group(dedicated));
        Assert.Contains(back.Decisions, d => d.NodeGroup == dedicated && d.Change.StartsWith("remove; c/r.1 returns to default", StringComparison.Ordinal));
        Assert.Empty(state.Assignments);
    }

    [Fact]
    public void A_subtree_whose_load_hovers_at_the_quota_keeps_its_group_rather_than_flap()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();

        // 5,200 ops/s at 500 per planned node: 11 nodes, over the quota of 10; r.1 carries most of it.
        policy.Step(state, [Colony("c", 5_200, subtrees: [new("r.0", 200, 100, 3), new("r.1", 5_000, 100, 3)])], T0);
        Assert.Single(state.Assignments);

        // Just under the quota (4,900 ops/s: 10 nodes) it would fit back, but not with the headroom a release asks
        // for (at 400 ops/s per node, 13): it keeps its group however long the load hovers there.
        ColonyDemand Hovering() => Colony("c", 4_900, subtrees: [new("r.0", 200, 100, 3), new("r.1", 4_700, 100, 3)]);
        policy.Step(state, [Hovering()], T0.AddMinutes(1));
        var later = policy.Step(state, [Hovering()], T0.AddMinutes(30));
        Assert.Single(state.Assignments);
        Assert.DoesNotContain(later.Decisions, d => d.Change.StartsWith("remove;", StringComparison.Ordinal));

        // Well under (3,000 ops/s: 8 nodes even at 400 per node): it returns after the cool-down.
        ColonyDemand Cool() => Colony("c", 3_000, subtrees: [new("r.0", 200, 100, 3), new("r.1", 2_800, 100, 3)]);
        policy.Step(state, [Cool()], T0.AddMinutes(31));
        var back = policy.Step(state, [Cool()], T0.AddMinutes(37));
        Assert.Empty(state.Assignments);
        Assert.Contains(back.Decisions, d => d.Change.StartsWith("remove; c/r.1 returns to default", StringComparison.Ordinal) && d.Reason.Contains("0.4 utilisation", StringComparison.Ordinal));
    }

    [Fact]
    public void Two_hot_subtrees_return_only_as_far_as_their_old_group_holds_them_together()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();
        ColonyDemand Demand(double each) => Colony("c", 2 * each, subtrees: [new("r.0", each, 100, 3), new("r.1", each, 100, 3)]);
        policy.Step(state, [Demand(6_000)], T0);
        policy.Step(state, [Demand(6_000)], T0.AddSeconds(10));
        Assert.Equal(2, state.Assignments.Count); // each needs 12 nodes with the other, over the quota of 10

        // Each alone would fit back (6 nodes), both together would not (12): one returns, the other stays.
        policy.Step(state, [Demand(3_000)], T0.AddMinutes(1));
        var step = policy.Step(state, [Demand(3_000)], T0.AddMinutes(7));
        Assert.Single(state.Assignments);
        Assert.Single(step.Decisions, d => d.Change.StartsWith("remove;", StringComparison.Ordinal));
        Assert.DoesNotContain(step.Decisions, d => d.Change.StartsWith("dedicate", StringComparison.Ordinal)); // no flapping
        Assert.Equal(2, step.Desired.Groups.Count);
        Assert.Equal(6, step.Desired.Group("default")!.Desired);
    }

    [Fact]
    public void No_group_is_made_beyond_the_cluster_quota()
    {
        var options = Options();
        options.MaxNodeGroups = 1;
        var step = new ProvisioningPolicy(options).Step(new PolicyState(), [Colony("c", 6_000, subtrees: [new("r.1", 5_000, 100, 3)])], T0);
        Assert.Equal(["default"], step.Desired.Groups.Select(g => g.Name));
        Assert.Equal(10, step.Desired.Group("default")!.Desired);
    }

    [Fact]
    public void The_same_demand_twice_keeps_the_generation()
    {
        var policy = new ProvisioningPolicy(Options());
        var state = new PolicyState();
        var first = policy.Step(state, [Colony("c", 700)], T0);
        var again = policy.Step(state, [Colony("c", 700)], T0.AddSeconds(10));
        Assert.False(again.Changed);
        Assert.Equal(first.Desired.Generation, again.Desired.Generation);
        Assert.Empty(again.Decisions);
    }

    [Fact]
    public void Over_any_trace_sizes_stay_within_quotas_grow_at_once_and_shrink_only_after_a_cool_down()
    {
        var options = Options();
        var gen = Gen.Select(Gen.Double[0, 12_000], Gen.Double[0, 1], Gen.Int[0, 3]).Array[1, 60];
        gen.Sample(trace =>
        {
            var policy = new ProvisioningPolicy(options);
            var state = new PolicyState();
            var lastAtOrAbove = new Dictionary<string, DateTimeOffset>();
            var previous = new Dictionary<string, int>();
            long generation = 0;
            for (var i = 0; i < trace.Length; i++)
            {
                var (ops, hotShare, floor) = trace[i];
                var now = T0.AddSeconds(30 * i);
                var demand = Colony("c", ops, floor: floor, subtrees: [new("r.0", ops * (1 - hotShare), 10, 2), new("r.1", ops * hotShare, 10, 2)]);
                var step = policy.Step(state, [demand], now, ["default"]);
                Assert.True(step.Desired.Generation >= generation);
                Assert.Equal(step.Changed, step.Desired.Generation > generation);
                generation = step.Desired.Generation;
                Assert.True(step.Desired.Groups.Count <= options.MaxNodeGroups);
                foreach (var gone in previous.Keys.Where(g => step.Desired.Group(g) is null).ToList())
                {
                    // A hot subtree's group that went away starts afresh if the subtree heats up again.
                    previous.Remove(gone);
                }

                foreach (var group in step.Desired.Groups)
                {
                    var demandOf = step.Demand.First(d => d.NodeGroup == group.Name);
                    var need = demandOf.NodesNeeded;
                    Assert.InRange(group.Desired, Math.Min(floor, options.MaxNodesPerGroup), options.MaxNodesPerGroup);

                    // Never used beyond the target plus the scale-up tolerance (a group grows in the step its load asks it to).
                    var tolerated = Math.Min(options.MaxNodesPerGroup, Math.Max(demandOf.RedundancyFloor,
                        (int)Math.Ceiling((demandOf.OpsPerSecond / (options.OpsPerNode * (options.TargetUtilisation + options.ScaleUpTolerance))) - 1e-9)));
                    Assert.True(group.Desired >= tolerated, $"{group.Name} at {group.Desired} below what its load tolerates, {tolerated}");
                    if (previous.TryGetValue(group.Name, out var before) && group.Desired < before)
                    {
                        Assert.True(now - lastAtOrAbove[group.Name] >= options.ScaleDownCoolDown, $"{group.Name} shrank before the cool-down");
                    }

                    if (need >= group.Desired || !previous.ContainsKey(group.Name) || group.Desired != previous[group.Name])
                    {
                        lastAtOrAbove[group.Name] = now;
                    }

                    previous[group.Name] = group.Desired;
                }
            }
        });
    }
}
