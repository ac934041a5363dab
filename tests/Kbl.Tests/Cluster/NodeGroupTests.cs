using System.Collections.Concurrent;
using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;
using Kbl.Tests.Faults;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

/// <summary>KBLs live on the silos of their node group, move with their records, and are handed over when a silo stops.</summary>
[Collection(NodeGroupCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class NodeGroupTests(NodeGroupClusterFixture fixture)
{
    private static readonly Dictionary<string, string> GroupOfSilo = new()
    {
        ["silo-0"] = "a", ["silo-1"] = "a", ["silo-2"] = "b", ["silo-3"] = "b", ["silo-4"] = "a", ["silo-5"] = "a",
    };

    [Fact]
    public async Task A_thousand_KBLs_across_colonies_all_land_on_their_node_group()
    {
        var colonies = Enumerable.Range(0, 8).Select(i => (Name: $"pinned-{i}", Group: i % 2 == 0 ? "a" : "b")).ToList();
        await Parallel.ForEachAsync(colonies, async (colony, _) =>
        {
            await Root(colony.Name).Configure(Genome.Default with { SplitKeys = 8, MergeKeys = 1, NodeGroup = colony.Group, Hysteresis = TimeSpan.FromHours(1) });
            for (var i = 0; i < 520; i++)
            {
                await Put(colony.Name, $"k{i * 7919 % 100_000:d5}", "v");
            }
        });

        var total = 0;
        foreach (var (name, group) in colonies)
        {
            // Divisions finish just after the writes (a leaf asks its parent): wait until every leaf is within splitKeys.
            var tree = await Eventually.Until(
                () => Root(name).GetTree(), t => TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= 8), TimeSpan.FromSeconds(30), $"{name} divided");
            var kbls = TreeWalk.All(tree).ToList();
            total += kbls.Count;
            Assert.All(kbls, k => Assert.Equal(group, k.NodeGroup));
            Assert.All(kbls, k => Assert.Equal(group, GroupOfSilo[k.Silo]));
        }

        Assert.True(total >= 1000, $"{total} KBLs");
        var stats = await Task.WhenAll(GroupOfSilo.Keys.Take(4).Select(s => fixture.Grains.GetGrain<ISiloAgentGrain>(s).GetStats()));
        Assert.Equal(stats.Sum(s => s.Leaves), stats.Sum(s => s.LeavesInGroup));
    }

    [Fact]
    public async Task A_moved_subtree_takes_every_activation_and_record_to_the_new_group()
    {
        const string colony = "mover";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 40, MergeKeys = 1, NodeGroup = "a", Hysteresis = TimeSpan.FromHours(1) });
        var acknowledged = new ConcurrentDictionary<string, string>();
        for (var i = 0; i < 400; i++)
        {
            var key = $"m{i * 37 % 400:d3}";
            await Put(colony, key, "v0");
            acknowledged[key] = "v0";
        }

        // Divisions finish just after the writes (a leaf asks its parent): move a subtree of the settled tree.
        var tree = await Eventually.Until(
            () => Root(colony).GetTree(),
            t => TreeWalk.All(t).All(k => k.Role == KblRole.Leaf ? k.Feedback.Keys <= 40 : k.Children.Count <= 8),
            TimeSpan.FromSeconds(30),
            $"{colony} divided");
        var subtree = tree.Children[1];
        Assert.Equal("a", subtree.NodeGroup);

        // Writers keep going while the subtree moves; every write they are told succeeded must survive.
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var n = 1; !stop.IsCancellationRequested; n++)
            {
                var key = $"m{(w * 97) + (n % 97):d3}";
                await Put(colony, key, $"w{w}-{n}");
                acknowledged[key] = $"w{w}-{n}";
            }
        })).ToList();
        var moved = await fixture.Grains.GetGrain<IKblPlacementGrain>(subtree.Id).Move("b");
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.True(moved.Kbls >= 1 && moved.Records > 0, $"moved {moved}");
        // Every KBL of the moved range — the subtree, and siblings its KBLs divided into while it moved — is on b.
        var after = TreeWalk.All(await Root(colony).GetTree()).Where(k => k.Id == subtree.Id || Within(k.Range, subtree.Range)).ToList();
        Assert.Contains(after, k => k.Id == subtree.Id);
        Assert.All(after, k => Assert.Equal("b", k.NodeGroup));
        Assert.All(after, k => Assert.Equal("b", GroupOfSilo[k.Silo]));

        // Data followed placement: the old group's silos hold none of the subtree's records any more.
        var inRange = acknowledged.Keys.Count(k => subtree.Range.Contains(KeyOrder.Encode(k)));
        foreach (var (silo, group) in GroupOfSilo.Where(s => fixture.Cluster.Silos.Any(h => $"silo-{NodeGroupClusterFixture.Index(h.Name)}" == s.Key)))
        {
            var held = await fixture.Grains.GetGrain<ISiloAgentGrain>(silo).CountRecords(colony, subtree.Range);
            Assert.True(group == "b" || held == 0, $"{silo} (group {group}) still holds {held} records of the moved subtree");
        }

        long inB = 0;
        foreach (var silo in new[] { "silo-2", "silo-3" })
        {
            inB += await fixture.Grains.GetGrain<ISiloAgentGrain>(silo).CountRecords(colony, subtree.Range);
        }

        Assert.Equal(inRange, inB);
        foreach (var (key, value) in acknowledged)
        {
            Assert.Equal(value, await Get(colony, key));
        }
    }

    [Fact]
    public async Task A_mirrored_leaf_moved_to_another_group_builds_its_copies_there_first_and_never_has_fewer_in_sync()
    {
        const string colony = "mirror-mover";
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var (model, _) = await MirroredInGroupA(colony);

        // Writes go on while it moves; every acknowledged one must be there after, and no client sees an error.
        using var writing = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !writing.IsCancellationRequested; i++)
            {
                await model.Put($"w{i % 50:d2}", $"during{i}");
            }
        });

        // The move answers at once: the leaf moves when its copies in group b are in sync, by a hand-over.
        var moved = await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Move("b");
        Assert.Equal(new MoveResult(true, 0, 0, null, Moving: 1), moved);
        var views = await InGroupBWithTwoCopiesThroughout(colony);
        Assert.Contains(views, v => GroupOf(v.Silo) == "a" && v.Replicas!.Members.Any(m => GroupOf(m.Silo) == "b"));
        await writing.CancelAsync();
        await writer;
        await model.Check();
        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
        await NothingLeftIn(colony, "a");
    }

    /// <summary>Lost messages of a move by copies: the hand-over's check on the new home, a rebuild's end, the drop of an old copy.</summary>
    public static TheoryData<string, FaultTiming> MoveByCopiesFaults => new()
    {
        { "ISiloAgentGrain.EndImport", FaultTiming.Before },
        { "ISiloAgentGrain.EndImport", FaultTiming.After },
        { "IReplicaGrain.EndInstall", FaultTiming.Before },
        { "IReplicaGrain.EndInstall", FaultTiming.After },
        { "IReplicaGrain.Drop", FaultTiming.Before },
        { "IReplicaGrain.Drop", FaultTiming.After },
    };

    /// <summary>
    /// A lost message anywhere in a move by copies (a hand-over that stops after the release, a rebuild that does not
    /// end, a drop lost or whose answer is lost) is made good on a later tick: the leaf gets to group b with both
    /// copies there, never fewer than two in sync on the way, every acknowledged write kept, no client error, and no
    /// copy left in group a (a drop that got no answer is asked again while its silo is up).
    /// </summary>
    [Theory]
    [MemberData(nameof(MoveByCopiesFaults))]
    public async Task A_move_by_copies_loses_nothing_when_a_message_is_lost(string step, FaultTiming timing)
    {
        var colony = $"mirror-fault-{step.Split('.')[1].ToLowerInvariant()}-{timing.ToString().ToLowerInvariant()}";
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var (model, _) = await MirroredInGroupA(colony);
        var fault = new Fault(step, FaultSide.Callee, timing, FaultKind.Lose) { Grain = id };
        try
        {
            fixture.Faults.Arm(fault);
            Assert.Equal(1, (await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Move("b")).Moving);
            for (var i = 0; !fixture.Faults.Fired.IsCompleted; i++)
            {
                await model.Put($"w{i % 50:d2}", $"during{i}");
                Assert.True(i < 100_000, $"the fault ({fault}) never struck");
            }

            await InGroupBWithTwoCopiesThroughout(colony);
        }
        finally
        {
            fixture.Faults.Disarm();
        }

        await model.Check();
        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
        await NothingLeftIn(colony, "a");
    }

    /// <summary>
    /// A colony of one mirrored leaf (two copies) in group a, 300 records of 1 KB, both copies in sync; it divides
    /// neither by size nor by load (the writes that wait for a fault come as fast as the leaf takes them).
    /// </summary>
    private async Task<(ColonyModel Model, KblView Leaf)> MirroredInGroupA(string colony)
    {
        await Root(colony).Configure(Genome.NewColony with { SplitKeys = 100_000, SplitOpsPerSecond = 1e9, MergeKeys = 1, NodeGroup = "a", Hysteresis = TimeSpan.FromHours(1) });
        var model = new ColonyModel(fixture.Router, colony);
        for (var i = 0; i < 300; i++)
        {
            await model.Put($"g{i:d3}", $"{i}-{new string('x', 1000)}");
        }

        var leaf = (await Eventually.Until(() => Tree(colony), t => t?.Replicas is { InSync: 2 }, TimeSpan.FromSeconds(30), "two copies in sync in group a"))!;
        Assert.All(leaf.Replicas!.Members.Select(m => m.Silo).Append(leaf.Silo), s => Assert.Equal("a", GroupOf(s)));
        return (model, leaf);
    }

    /// <summary>
    /// Watches the leaf from now until it serves from group b with both copies there, in sync and byte-identical:
    /// every view on the way shows two copies in sync (a move with its records would leave one, the moved one,
    /// until a rebuild in b ended).
    /// </summary>
    private async Task<List<KblView>> InGroupBWithTwoCopiesThroughout(string colony)
    {
        var views = new List<KblView>();
        var after = (await Eventually.Until(
            async () =>
            {
                var view = await Tree(colony);
                if (view?.Replicas is not null)
                {
                    views.Add(view);
                }

                return view;
            },
            t => t?.Replicas is { InSync: 2 } r && GroupOf(t.Silo) == "b" && r.Members.All(m => GroupOf(m.Silo) == "b"),
            TimeSpan.FromSeconds(60),
            "the leaf in group b with its two copies there"))!;
        Assert.All(views, v => Assert.True(
            v.Replicas!.InSync >= 2,
            $"{v.Replicas.InSync} copies in sync while on {v.Silo} ({string.Join(", ", v.Replicas.Members.Select(m => $"{m.Silo}{(m.InSync ? " in sync" : "")}"))})"));
        var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(after.Id).Copies();
        Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is not null));
        Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
        return views;
    }

    /// <summary>Group <paramref name="group"/> keeps nothing of the colony's leaf: neither records (a primary's) nor a replica's copy.</summary>
    private async Task NothingLeftIn(string colony, string group)
    {
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var after = (await Tree(colony))!;
        foreach (var silo in fixture.LiveSilos.Select(s => KblTestCluster.StableName(s.Name)).Where(s => GroupOf(s) == group))
        {
            Assert.Equal(0, await fixture.Grains.GetGrain<ISiloAgentGrain>(silo).CountRecords(colony, after.Range));
            await Eventually.Until(
                () => fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(silo, id)).Digest(after.Range),
                d => d.Records == 0,
                TimeSpan.FromSeconds(30),
                $"{silo}'s replica copy dropped");
        }
    }

    [Fact]
    public async Task A_mirrored_leaf_moved_back_before_it_left_stays_with_its_copies_and_the_other_group_keeps_none()
    {
        const string colony = "mirror-back";
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var (model, before) = await MirroredInGroupA(colony);
        var placement = fixture.Grains.GetGrain<IKblPlacementGrain>(id);

        // Copies start being built in b (slowly: 300 KB at 10 KB/s); before the leaf can leave, it is sent back to a.
        MoveResult back;
        using (new SlowRebuilds(fixture, 10_000))
        {
            Assert.Equal(1, (await placement.Move("b")).Moving);
            await Eventually.Until(() => Tree(colony), t => t?.Replicas?.Members.Any(m => GroupOf(m.Silo) == "b") == true, TimeSpan.FromSeconds(30), "a copy being built in b");
            back = await placement.Move("a");
        }

        Assert.Equal((0, 0), (back.Moving, back.Kbls));

        // It ends where it was, with its copies in a only, and b keeps no copy of it.
        var after = (await Eventually.Until(
            () => Tree(colony),
            t => t?.Replicas is { InSync: 2 } r && r.Members.Count == 1 && r.Members.All(m => GroupOf(m.Silo) == "a"),
            TimeSpan.FromSeconds(30),
            "the leaf in group a with its two copies there"))!;
        Assert.Equal(before.Silo, after.Silo);
        await model.Check();
        await NothingLeftIn(colony, "b");
    }

    private Task<KblView?> Tree(string colony) => Root(colony).ViewOrNull();

    private static bool Within(KeyRange inner, KeyRange outer) =>
        KeyOrder.Compare(inner.Lo, outer.Lo) >= 0 && (outer.Hi is null || (inner.Hi is not null && KeyOrder.Compare(inner.Hi, outer.Hi) <= 0));

    [Fact]
    public async Task A_stopping_silo_hands_its_KBLs_to_its_group_and_a_joining_silo_receives_a_share()
    {
        const string colony = "handover";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 20, MergeKeys = 1, NodeGroup = "a", Hysteresis = TimeSpan.FromHours(1) });
        var keys = Enumerable.Range(0, 300).Select(i => $"h{i * 13 % 300:d3}").ToList();
        foreach (var key in keys)
        {
            await Put(colony, key, $"value-{key}");
        }

        // Put half of the colony's leaves on silo-1, the group-a silo that is not the primary.
        foreach (var leaf in TreeWalk.Leaves(await Root(colony).GetTree()).Where((_, i) => i % 2 == 0))
        {
            if (leaf.Silo != "silo-1")
            {
                await fixture.Grains.GetGrain<IKblPlacementGrain>(leaf.Id).Relocate(leaf.Silo, "silo-1");
            }
        }

        Assert.Contains(TreeWalk.Leaves(await Root(colony).GetTree()), l => l.Silo == "silo-1");

        // Stop the group-a silo that is not the primary, gracefully.
        var victim = fixture.Cluster.Silos.Single(s => NodeGroupClusterFixture.Index(s.Name) == 1);
        await fixture.Cluster.StopSiloAsync(victim);

        var tree = await Root(colony).GetTree();
        Assert.All(TreeWalk.All(tree), k => Assert.NotEqual("silo-1", k.Silo));
        Assert.All(TreeWalk.All(tree), k => Assert.Equal("a", GroupOfSilo[k.Silo]));
        foreach (var key in keys)
        {
            Assert.Equal($"value-{key}", await Get(colony, key));
        }

        // A new silo joins group a: rebalancing gives it a share of the group's leaves.
        var joined = await fixture.Cluster.StartAdditionalSiloAsync();
        var newcomer = $"silo-{NodeGroupClusterFixture.Index(joined.Name)}";
        Assert.Equal("a", GroupOfSilo[newcomer]);
        await Eventually.Until(
            () => fixture.Grains.GetGrain<ISiloAgentGrain>(newcomer).GetStats(),
            s => s.Leaves > 0,
            TimeSpan.FromSeconds(30),
            $"{newcomer} receiving leaves");
        foreach (var key in keys)
        {
            Assert.Equal($"value-{key}", await Get(colony, key));
        }
    }

    [Fact]
    public async Task Two_silos_of_a_group_stopping_at_once_leave_no_KBL_on_either_and_lose_nothing()
    {
        const string colony = "two-stop";
        await Root(colony).Configure(Genome.Default with { SplitKeys = 20, MergeKeys = 1, NodeGroup = "a", Hysteresis = TimeSpan.FromHours(1), Redundancy = Redundancy.None });
        var keys = Enumerable.Range(0, 300).Select(i => $"t{i * 13 % 300:d3}").ToList();
        foreach (var key in keys)
        {
            await Put(colony, key, $"value-{key}");
        }

        // Two silos join group a (a StatefulSet scaled up by two) and take leaves of the colony (the rebalancer gives
        // them a share; a leaf is moved there where it has not yet).
        var joined = new[] { await fixture.Cluster.StartAdditionalSiloAsync(), await fixture.Cluster.StartAdditionalSiloAsync() };
        var names = joined.Select(s => $"silo-{NodeGroupClusterFixture.Index(s.Name)}").ToList();
        foreach (var name in names)
        {
            await Eventually.Until(
                async () =>
                {
                    var leaves = TreeWalk.Leaves(await Root(colony).GetTree()).ToList();
                    if (leaves.Any(l => l.Silo == name))
                    {
                        return true;
                    }

                    var leaf = leaves.First(l => !names.Contains(l.Silo));
                    return await fixture.Grains.GetGrain<IKblPlacementGrain>(leaf.Id).Relocate(leaf.Silo, name) >= 0;
                },
                done => done,
                TimeSpan.FromSeconds(30),
                $"a leaf of {colony} on {name}");
        }

        var before = TreeWalk.All(await Root(colony).GetTree()).ToList();
        Assert.All(names, n => Assert.Contains(before, k => k.Silo == n));

        // Both stop at once (scaled down by two): each drains while the other does.
        await Task.WhenAll(joined.Select(s => fixture.Cluster.StopSiloAsync(s)));

        var after = TreeWalk.All(await Root(colony).GetTree()).ToList();
        Assert.All(after, k => Assert.DoesNotContain(k.Silo, names));
        Assert.All(after, k => Assert.Equal("a", GroupOf(k.Silo)));
        foreach (var key in keys)
        {
            Assert.Equal($"value-{key}", await Get(colony, key));
        }
    }

    [Fact]
    public async Task A_colony_of_a_node_group_with_no_silo_waits_then_fails_and_is_not_created()
    {
        var error = await Assert.ThrowsAsync<NodeGroupUnavailableException>(() =>
            Root("nowhere").Configure(Genome.Default with { NodeGroup = "c" }));
        Assert.Contains("'c'", error.Message, StringComparison.Ordinal);
        Assert.Null(await Root("nowhere").GetGenome());
    }

    [Fact]
    public async Task A_colony_move_that_stopped_half_way_is_finished_by_asking_again()
    {
        const string colony = "half-mover";
        var genome = Genome.Default with { SplitKeys = 16, MergeKeys = 1, NodeGroup = "a", Hysteresis = TimeSpan.FromHours(1) };
        await Root(colony).Configure(genome);
        for (var i = 0; i < 80; i++)
        {
            await Put(colony, $"h{i:d2}", $"v{i}");
        }

        await Eventually.Until(
            () => Root(colony).GetTree(), t => TreeWalk.Leaves(t).Count() >= 3 && TreeWalk.Leaves(t).All(l => l.Feedback.Keys <= 16), TimeSpan.FromSeconds(30), $"{colony} divided");

        // The second child's move is lost on its way: the colony's move stops half-way and says so.
        fixture.Faults.Arm(new Fault("IKblPlacementGrain.Move", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose, Skip: 1));
        try
        {
            await Assert.ThrowsAsync<NodeGroupUnavailableException>(() => Root(colony).Configure(genome with { NodeGroup = "b" }));
        }
        finally
        {
            fixture.Faults.Disarm();
        }

        var half = await Root(colony).GetTree();
        Assert.Equal("a", half.NodeGroup); // the root's group changes last
        Assert.Contains(TreeWalk.All(half), k => k.NodeGroup == "a" && k.Id != half.Id);

        // Asked again, it finishes: every KBL and every record in group b.
        await Root(colony).Configure(genome with { NodeGroup = "b" });
        var after = await Eventually.Until(
            () => Root(colony).GetTree(), t => TreeWalk.All(t).All(k => k.NodeGroup == "b" && GroupOf(k.Silo) == "b"), TimeSpan.FromSeconds(30), "the whole colony in b");
        Assert.All(TreeWalk.All(after), k => Assert.Equal("b", GroupOf(k.Silo)));
        for (var i = 0; i < 80; i++)
        {
            Assert.Equal($"v{i}", await Get(colony, $"h{i:d2}"));
        }
    }

    /// <summary>The node group of a test silo by its stable name, silos started later included.</summary>
    private static string GroupOf(string silo) => NodeGroupClusterFixture.GroupOf(KblTestCluster.Index(silo));

    private IKblGrain Root(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));

    private async Task Put(string colony, string key, string value)
    {
        var bytes = KeyOrder.Encode(key);
        var reply = await fixture.Router.Send(colony, bytes, g => g.Put(bytes, Encoding.UTF8.GetBytes(value), Precondition.None));
        Assert.True(reply.Status == KblStatus.Ok, $"put {colony}/{key}: {reply.Status} {reply.Message}");
    }

    private async Task<string?> Get(string colony, string key)
    {
        var bytes = KeyOrder.Encode(key);
        var reply = await fixture.Router.Send(colony, bytes, g => g.Get(bytes));
        return reply.Status == KblStatus.Ok ? Encoding.UTF8.GetString(reply.Value!) : $"<{reply.Status}: {reply.Message}>";
    }
}
