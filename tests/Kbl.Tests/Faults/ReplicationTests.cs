using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Placement;
using Kbl.Records;
using Kbl.Replication;
using Kbl.Silo.Routing;
using Kbl.Tests.Cluster;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Xunit.Abstractions;

namespace Kbl.Tests.Faults;

/// <summary>
/// A mirrored colony on three silos: a write is on two of them before it is acknowledged, a silo killed (frozen,
/// then killed, as kill -9 would) loses nothing, the leaf serves again from its replica, and its copies are
/// rebuilt on the silo left; below <c>minCopies</c> it refuses writes and keeps serving reads.
/// </summary>
[Collection(FaultClusterCollection.Name)]
[Trait("Category", Category.Cluster)]
public sealed class ReplicationTests(FaultClusterFixture fixture, ITestOutputHelper output) : IDisposable
{
    private static TimeSpan Settle => TimeSpan.FromSeconds(60);

    public void Dispose() => fixture.Faults.Disarm();

    [Fact]
    public async Task Killing_the_primarys_silo_loses_no_acknowledged_write_and_its_replica_takes_over()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1);
        for (var i = 0; i < 200; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        var before = await Redundant(colony, 2);
        var primary = before.Silo;
        output.WriteLine($"primary on {primary}, replica on {before.Replicas!.Members.Single().Silo}");
        await fixture.Kill(primary);
        var served = await model.UntilServed();
        output.WriteLine($"served again {served.TotalMilliseconds:F0} ms after the others noticed the kill");
        await model.Check();

        // Its copies are rebuilt on the silo left; it takes writes as before.
        var after = await Redundant(colony, 2);
        Assert.NotEqual(primary, after.Silo);
        Assert.DoesNotContain(primary, after.Replicas!.Members.Select(m => m.Silo));
        for (var i = 0; i < 200; i += 10)
        {
            await model.Put($"k{i:d3}", $"w{i}");
        }

        // The killed silo comes back with its disk: it holds no say over the shard any more, and nothing is lost.
        await fixture.Restart(primary);
        await model.Check();
        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
    }

    /// <summary>
    /// A silo down while a colony was deleted keeps that life's copies on its disk: sealed for that life's epochs,
    /// holding its records. The colony created again under the same name takes its copies there all the same (an old
    /// seal does not fence it), and no record of the earlier life comes back when the new primary's silo is lost.
    /// </summary>
    [Theory]
    [InlineData(false)] // the earlier life ran an earlier version: its epochs counted from 1
    [InlineData(true)] // the earlier life ran this version, created ten minutes before: its epochs counted from then
    public async Task A_colony_created_again_takes_its_copies_where_an_earlier_life_left_its_own(bool earlierLifeOfThisVersion)
    {
        var colony = NewColonyName();
        var root = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var epoch = earlierLifeOfThisVersion ? (DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10)).ToUnixTimeMilliseconds() * 1000 + 50 : 3;
        foreach (var silo in fixture.LiveSilos)
        {
            // What that life's replica of the root left on each disk: sealed for its epoch, one record applied.
            var store = silo.ServiceProvider.GetRequiredService<RecordStore>();
            store.SealShard(root, epoch);
            Assert.True(store.ApplyEntries(colony, root, epoch, [new LogEntry(1, epoch, KeyOrder("ghost"), "of the earlier life"u8.ToArray())], retain: 100, replica: true));
        }

        var (_, model) = await Mirrored(copies: 2, minCopies: 1, name: colony);
        for (var i = 0; i < 40; i++)
        {
            await model.Put($"k{i:d2}", $"v{i}");
        }

        var before = await OnSilo1(colony, copies: 2); // two copies in sync, one of them on a disk the earlier life sealed
        await fixture.Kill("silo-1");
        await model.UntilServed();
        await model.Check(); // every write, and no record of the earlier life ("ghost")
        var after = await Redundant(colony, 2, without: "silo-1");
        Assert.NotEqual(before.Silo, after.Silo);
        await fixture.Restart("silo-1");
        await model.Check();
        Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
    }

    [Fact]
    public async Task With_three_copies_two_silos_killed_in_a_row_lose_nothing()
    {
        var (colony, model) = await Mirrored(copies: 3, minCopies: 1);
        for (var i = 0; i < 100; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        var first = (await Redundant(colony, 3)).Silo;
        await fixture.Kill(first);
        await model.UntilServed();
        await model.Put("k000", "after-first");

        // The second kill comes before the first silo is back, once the silo left is in sync: it takes over.
        var after = (await Eventually.Until(
            () => Tree(colony),
            t => t is { Replicas: { } r } && t.Silo != first && r.Members.Any(m => m.Silo != first && m.InSync),
            Settle,
            "a new primary with the third silo in sync"))!;
        var second = after.Silo;
        output.WriteLine($"after the first kill: primary {second}, replicas {string.Join(", ", after.Replicas!.Members.Select(m => $"{m.Silo}{(m.InSync ? " (in sync)" : "")}"))}");
        await fixture.Kill(second);
        var served = await model.UntilServed();
        output.WriteLine($"served again {served.TotalMilliseconds:F0} ms after the second kill was noticed");
        await model.Put("k001", "after-second");
        await model.Check();

        await fixture.Restart(first);
        await fixture.Restart(second);
        await Redundant(colony, 3);
        await model.Check();
    }

    [Fact]
    public async Task Below_minCopies_a_leaf_refuses_writes_serves_reads_and_heals_when_the_silo_returns()
    {
        var (colony, model) = await Mirrored(copies: 3, minCopies: 3);
        await model.Put("a", "1");
        var tree = await Redundant(colony, 3);
        var replica = tree.Replicas!.Members.First().Silo;
        await fixture.Kill(replica);

        var key = KeyOrder("b");
        var refused = await Eventually.Until(
            async () =>
            {
                try
                {
                    return await fixture.Router.Send(colony, key, g => g.Put(key, "2"u8.ToArray(), Precondition.None));
                }
                catch (OrleansException)
                {
                    return null; // the client's gateway was on the killed silo
                }
            },
            r => r?.Status == KblStatus.Unavailable,
            Settle,
            "a write refused below minCopies");
        Assert.Contains("minCopies", refused!.Message, StringComparison.Ordinal);
        var read = await fixture.Router.Send(colony, KeyOrder("a"), g => g.Get(KeyOrder("a")));
        Assert.Equal(KblStatus.Ok, read.Status);
        Assert.Equal("1", System.Text.Encoding.UTF8.GetString(read.Value!));

        // A batch refused as a whole: no write of it is answered from an earlier one that never took effect.
        var leaf = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        var batch = await leaf.WriteMany([new RecordWrite(KeyOrder("a"), null, Precondition.None), new RecordWrite(KeyOrder("a"), null, Precondition.None)]);
        Assert.All(batch, r => Assert.Equal(KblStatus.Unavailable, r.Status));
        Assert.Equal(KblStatus.Ok, (await leaf.Get(KeyOrder("a"))).Status);

        // The silo comes back with its disk: the member catches up and writes are taken again.
        await fixture.Restart(replica);
        await Redundant(colony, 3);
        await model.Put("b", "2");
        await model.Check();
    }

    [Fact]
    public async Task An_idle_leaf_whose_replica_is_lost_rebuilds_it_on_another_silo()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1);
        for (var i = 0; i < 50; i++)
        {
            await model.Put($"k{i:d2}", $"v{i}");
        }

        var before = await Redundant(colony, 2);
        var lost = before.Replicas!.Members.Single().Silo;
        await fixture.Kill(lost);

        // No write comes: the leaf notices on its own and copies its records to the silo left.
        var after = await Redundant(colony, 2, without: lost);
        Assert.Equal(before.Silo, after.Silo);
        await fixture.Restart(lost);
        await model.Check();
    }

    [Fact]
    public async Task A_copy_is_rebuilt_in_the_background_while_its_leaf_takes_writes_and_the_new_copy_has_them_all()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1);
        var value = new string('v', 4000);
        for (var i = 0; i < 150; i++)
        {
            await model.Put($"k{i:d3}", $"{value}{i}"); // about 600 KB
        }

        var lost = (await Redundant(colony, 2)).Replicas!.Members.Single().Silo;

        // Rebuilds slowed to 100 KB/s on every silo: streaming this leaf's snapshot takes seconds.
        using (var slow = new SlowRebuilds(fixture, 100_000))
        {
            await fixture.Kill(lost);
            await Eventually.Until(
                () => Task.FromResult(slow.Streams),
                streams => streams > 0,
                Settle,
                "a snapshot streaming to the silo left");

            // The leaf serves while its snapshot streams: reads and writes are answered before the stream ends.
            for (var i = 0; i < 20; i++)
            {
                await model.Put($"during{i:d2}", $"w{i}");
                var read = await fixture.Router.Send(colony, KeyOrder("k000"), g => g.Get(KeyOrder("k000")));
                Assert.Equal(KblStatus.Ok, read.Status);
            }

            Assert.True(slow.Streams > 0, "the reads and writes waited until the snapshot had streamed");
        }

        // The rebuilt copy has the snapshot and every write made while it streamed: byte-identical to the primary's.
        await Redundant(colony, 2, without: lost);
        var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Copies();
        Assert.Equal(KblStatus.Ok, copies.Status);
        Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is not null));
        Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
        Assert.Equal(170, copies.Copies[0].Digest!.Records);
        await fixture.Restart(lost);
        await model.Check();
    }

    [Fact]
    public async Task After_a_silo_is_lost_its_leaves_rebuilds_wait_their_turns_and_every_leaf_gets_its_copy_back()
    {
        // Two leaves, each with its primary on silo-1 and its copy on silo-2 (about 160 KB each).
        await fixture.EnsureUp("silo-2");
        var leaves = new List<(string Colony, ColonyModel Model)>();
        var value = new string('v', 4000);
        for (var l = 0; l < 2; l++)
        {
            var (colony, model) = await Mirrored(copies: 2, minCopies: 1);
            for (var i = 0; i < 40; i++)
            {
                await model.Put($"k{i:d2}", $"{value}{i}");
            }

            await OnSilo1WithCopyOnSilo2(colony);
            leaves.Add((colony, model));
        }

        await Eventually.Until(() => Task.FromResult(fixture.LiveSilos.Select(s => s.ServiceProvider.GetRequiredService<RebuildThrottle>()).Sum(t => t.Streams + t.Waiting)), n => n == 0, Settle, "no rebuild streaming or waiting");

        // silo-2 dies: silo-1 rebuilds both copies on silo-0, at 50 KB/s and one stream at a time: the other waits.
        // (Leaves earlier tests left with a copy on silo-2 may be rebuilt too, and wait their turns as well.)
        using (var slow = new SlowRebuilds(fixture, 50_000, maxStreams: 1))
        {
            await fixture.Kill("silo-2");
            var silo1 = slow.On("silo-1");
            await Eventually.Until(() => Task.FromResult((silo1.Streams, silo1.Waiting)), s => s.Streams == 1 && s.Waiting >= 1, Settle, "one copy streaming from silo-1, another waiting its turn");
        }

        // Turns pass on (back at the default pace): every leaf gets its second copy, with every record.
        foreach (var (colony, model) in leaves)
        {
            await Redundant(colony, 2, without: "silo-2");
            var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Copies();
            Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 40 }));
            Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
            await model.Check();
        }

        await fixture.Restart("silo-2");
    }

    [Fact]
    public async Task A_draining_silo_hands_its_primaries_to_in_sync_replicas_so_no_copy_is_lost_or_made()
    {
        // The client talks to the gateway of silo-0, as a user behind a Kubernetes Service does while silo-1's pod
        // terminates (the Service stops sending it requests); the test client's own connection to silo-1 would see
        // that silo refuse calls as it shuts down, which says nothing about the drain.
        var (colony, model) = await Mirrored(copies: 3, minCopies: 1, genome => genome with { SplitOpsPerSecond = 1e9 }, fixture.RouterOn("silo-0"));
        var value = new string('v', 4000);
        for (var i = 0; i < 150; i++)
        {
            await model.Put($"k{i:d3}", $"{value}{i}"); // about 600 KB
        }

        // The primary on silo-1 (silo-0 holds the test cluster's membership and must not stop).
        const string drained = "silo-1";
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var before = await OnSilo1WithThreeCopies(colony);

        // Writes go on while the primary's silo drains (SIGTERM); rebuilds crawl at 100 KB/s meanwhile, so a copy
        // made or rebuilt by the drain would still be streaming when it ends.
        using var writing = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !writing.IsCancellationRequested; i++)
            {
                await model.Put($"w{i % 50:d2}", $"during{i}");
            }
        });
        var back = false;
        try
        {
            using (new SlowRebuilds(fixture, 100_000))
            {
                await fixture.Drain(drained);

                // The shard went to a silo that held an in-sync copy, which became the primary's; the third copy stayed
                // in sync: two copies right after the drain, not one and a rebuild under way.
                var after = (await Eventually.Until(() => Tree(colony), t => t?.Replicas is not null && t.Silo != drained, Settle, "the leaf served after the drain"))!;
                Assert.Contains(after.Silo, before.Replicas!.Members.Select(m => m.Silo));
                Assert.True(after.Replicas!.InSync == 2, $"{after.Replicas.InSync} copies in sync right after the drain ({string.Join(", ", after.Replicas.Members.Select(m => $"{m.Silo}{(m.InSync ? " in sync" : "")}"))})");
                Assert.Contains($"KBL {id} moved from silo {drained} to silo {after.Silo} with 0 records", fixture.Log.Lines(id), StringComparison.Ordinal);
            }

            await writing.CancelAsync();
            await writer;
            await model.Check();
            Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}\nKbl's log for {id}:\n{fixture.Log.Lines(id)}");

            // The silo comes back (empty of this shard): the third copy is rebuilt there.
            await fixture.Restart(drained);
            back = true;
            await Redundant(colony, 3);
            await model.Check();
        }
        finally
        {
            await writing.CancelAsync(); // (when an assertion failed) the writer stops, and the silo comes back: the tests after this one need it
            if (!back)
            {
                await fixture.Restart(drained);
            }
        }
    }

    /// <summary>
    /// A silo draining a two-copy leaf's primary first has it add a copy on the third silo (its own copy will not
    /// count once it leaves), then hands the shard over: right after the drain the leaf has two copies in sync, where
    /// a hand-over alone would leave one until a rebuild ended. So too for a leaf that sits idle (not active) when
    /// the drain begins: the drain wakes it first.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_draining_silo_first_gives_a_two_copy_leaf_a_copy_elsewhere_so_two_stay_in_sync(bool idle)
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1, genome => genome with { SplitOpsPerSecond = 1e9 });
        for (var i = 0; i < 150; i++)
        {
            await model.Put($"k{i:d3}", $"{new string('v', 4000)}{i}"); // about 600 KB
        }

        const string drained = "silo-1";
        var before = await OnSilo1(colony, copies: 2);
        if (idle)
        {
            await Idle(ColonyNames.KblId(colony, ColonyNames.RootPath));
        }

        var back = false;
        try
        {
            await fixture.Drain(drained);
            var after = (await Eventually.Until(() => Tree(colony), t => t?.Replicas is not null && t.Silo != drained, Settle, "the leaf served after the drain"))!;
            Assert.True(after.Replicas!.InSync == 2, $"{after.Replicas.InSync} copies in sync right after the drain ({string.Join(", ", after.Replicas.Members.Select(m => $"{m.Silo}{(m.InSync ? " in sync" : "")}"))}; before: {before.Replicas!.Members.Single().Silo})");
            await model.Check();
            Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");

            var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Copies();
            Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is not null));
            Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
            await fixture.Restart(drained);
            back = true;
        }
        finally
        {
            if (!back)
            {
                await fixture.Restart(drained);
            }
        }
    }

    /// <summary>
    /// The steps of a hand-over of a leaf from silo-1 to its in-sync copy on silo-2 (silo-0 holds the third), where a
    /// fault strikes them, and the silo the leaf's primary ends on.
    /// </summary>
    public static TheoryData<string, FaultSide, FaultTiming, FaultKind, string, string> HandOverFaults() => new()
    {
        // The catch-up of the target's copy lost (the leaf stays); the target's check lost before or after it ran (the
        // leaf stays); the hand-over done but its caller not told (the leaf moved).
        { "IReplicaGrain.Append", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose, "silo-2|", "silo-1" },
        { "ISiloAgentGrain.EndImport", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose, "", "silo-1" },
        { "ISiloAgentGrain.EndImport", FaultSide.Callee, FaultTiming.After, FaultKind.Lose, "", "silo-1" },
        { "IKblPlacementGrain.Relocate", FaultSide.Callee, FaultTiming.After, FaultKind.Lose, "", "silo-2" },

        // The target dies before the hand-over is recorded (the leaf stays); the primary dies before recording it (its
        // copies take over) or after (the target serves); the target dies after it was recorded, as it seals its copy
        // to start (the third copy takes over).
        { "ISiloAgentGrain.EndImport", FaultSide.Callee, FaultTiming.After, FaultKind.Crash, "", "silo-1" },
        { "ISiloAgentGrain.EndImport", FaultSide.Caller, FaultTiming.After, FaultKind.Crash, "", "" },
        { "IKblPlacementGrain.Relocate", FaultSide.Callee, FaultTiming.After, FaultKind.Crash, "", "silo-2" },
        { "IReplicaGrain.Seal", FaultSide.Callee, FaultTiming.Before, FaultKind.Crash, "silo-2|", "silo-0" },
    };

    /// <summary>
    /// A leaf with three copies hands its shard from silo-1 to its in-sync copy on silo-2 (silo-0, which holds the
    /// test cluster's membership, is never crashed) with a fault armed for that leaf's calls. Whatever the fault, the
    /// leaf serves every acknowledged write afterwards from the silo the fault leaves it on, and gets back to three
    /// byte-identical copies in sync; a lost message leaves clients no error.
    /// </summary>
    [Theory]
    [MemberData(nameof(HandOverFaults))]
    public async Task A_hand_over_loses_nothing_under_a_fault(string step, FaultSide side, FaultTiming timing, FaultKind kind, string at, string endsOn)
    {
        var (colony, model) = await Mirrored(copies: 3, minCopies: 1);
        for (var i = 0; i < 100; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}");
        }

        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var placement = fixture.Grains.GetGrain<IKblPlacementGrain>(id);
        await OnSilo1WithThreeCopies(colony);
        var fault = new Fault(step, side, timing, kind) { Spared = "silo-0", Grain = $"{at}{id}" };
        string? down = null;
        try
        {
            fixture.Faults.Arm(fault);
            try
            {
                output.WriteLine($"hand-over answered {await placement.Relocate("silo-1", "silo-2")}");
            }
            catch (Exception e) when (e is TimeoutException or OrleansException)
            {
                output.WriteLine($"hand-over failed: {e.Message}");
            }

            if (kind == FaultKind.Crash)
            {
                // A crash in the new primary's start strikes when a request activates it there.
                var touched = model.Touch();
                (_, down) = await fixture.Faults.Fired.WaitAsync(Settle);
                output.WriteLine($"{fault} struck on {down}: killing it");
                await fixture.Kill(down);
                await touched;
                await model.UntilServed();
                await model.Check();
                await fixture.Restart(down);
                down = null;
            }

            Assert.True(fixture.Faults.Fired.IsCompleted, $"the fault ({fault}) never struck");
            for (var i = 0; i < 100; i += 10)
            {
                await model.Put($"k{i:d3}", $"after{i}");
            }

            var after = await Redundant(colony, 3);
            if (endsOn.Length > 0)
            {
                Assert.Equal(endsOn, after.Silo);
            }

            await model.Check();
            var copies = await placement.Copies();
            Assert.Equal(3, copies.Copies.Count(c => c.InSync && c.Digest is not null));
            Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
            if (kind == FaultKind.Lose)
            {
                Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
            }
        }
        catch
        {
            output.WriteLine($"Kbl's log for {id}:\n{fixture.Log.Lines(id)}");
            throw;
        }
        finally
        {
            if (down is not null)
            {
                await fixture.Restart(down); // the next test needs three silos
            }
        }
    }

    [Fact]
    public async Task The_leaves_of_a_division_inherit_its_copies_so_losing_its_silo_right_after_loses_nothing()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1, genome => genome with { SplitKeys = 200, MergeKeys = 0, MergeBytes = 0 });
        await model.Put("k000", "first");
        var first = await Redundant(colony, 2);
        var (root, member) = (first.Silo, first.Replicas!.Members.Single().Silo);

        // Rebuilds slowed to a crawl: a new leaf that had to rebuild its copies would have one for seconds. First, other
        // colonies' rebuilds (an earlier test's restarted silo) end: the count of streams below is every silo's.
        await Eventually.Until(() => Task.FromResult(fixture.LiveSilos.Select(s => s.ServiceProvider.GetRequiredService<RebuildThrottle>()).Sum(t => t.Streams + t.Waiting)), n => n == 0, Settle, "no rebuild streaming or waiting");
        using (var slow = new SlowRebuilds(fixture, 65_536))
        {
            var value = new string('v', 4000);
            for (var i = 1; i < 300; i++)
            {
                await model.Put($"k{i:d3}", $"{value}{i}"); // the root leaf divides by size on its way (about 300 KB a leaf): its leaves stay on its silo
            }

            await Eventually.Until(() => Tree(colony), t => t is { Role: KblRole.Interior }, Settle, "the root divided");
            var leaves = await fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).GetTree(1, false);
            Assert.NotEmpty(leaves.Children);
            foreach (var child in leaves.Children)
            {
                var leaf = await fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, child.Path)).GetTree(0, false);
                Assert.True(leaf.Replicas is { Status: "redundant", InSync: 2 }, $"leaf {child.Path} on {leaf.Silo} starts with {leaf.Replicas?.InSync} copies in sync ({leaf.Replicas?.Status})");
                Assert.Equal(root, leaf.Silo);

                // The copy it inherited is its records, byte for byte.
                var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, child.Path)).Copies();
                Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is { Records: > 0 }));
                Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
            }

            Assert.Equal(0, slow.Rebuilds); // no copy is being rebuilt (at this pace none could have been yet)

            // The root holds no shard any more: its member drops its copy of it.
            await Eventually.Until(
                () => fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(member, ColonyNames.KblId(colony, ColonyNames.RootPath))).Digest(Kbl.Keys.KeyRange.All),
                digest => digest.Records == 0,
                Settle,
                "the root's copy dropped");

            // The silo of every new leaf's primary dies at once: each is served from the copy it inherited.
            await KillAndServe(root, model, "k150");
        }

        await fixture.Restart(root);
        await model.Check();
    }

    [Fact]
    public async Task A_merge_leaves_no_copy_of_its_leaves_behind()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1, genome => genome with { SplitKeys = 100, MergeKeys = 80, Hysteresis = TimeSpan.FromSeconds(1) });
        await model.Put("k000", "first");
        await Redundant(colony, 2);
        for (var i = 1; i < 150; i++)
        {
            await model.Put($"k{i:d3}", $"v{i}"); // it divides on the way, its leaves on its silo
        }

        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        var divided = await Eventually.Until(() => root.GetTree(1, false), t => t.Role == KblRole.Interior && t.Children.All(c => c.Replicas is { InSync: 2 }), Settle, "leaves with their copies");
        var copies = divided.Children.Select(c => (c.Id, c.Replicas!.Members.Single().Silo)).ToList();
        for (var i = 50; i < 150; i++)
        {
            await model.Delete($"k{i:d3}"); // down to 50 keys: once cold, its leaves merge back into it
        }

        await Eventually.Until(() => Tree(colony), t => t is { Role: KblRole.Leaf }, Settle, "the merge back into one leaf");

        foreach (var (id, member) in copies)
        {
            await Eventually.Until(
                () => fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(member, id)).Digest(Kbl.Keys.KeyRange.All),
                digest => digest.Records == 0,
                Settle,
                $"{id}'s copy on {member} dropped");
        }

        await Redundant(colony, 2);
        await model.Check();
    }

    [Fact]
    public async Task A_merge_takes_over_its_leaves_copies_so_losing_its_silo_right_after_loses_nothing()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1, genome => genome with { SplitKeys = 100, MergeKeys = 80, Hysteresis = TimeSpan.FromSeconds(1) });
        await model.Put("k000", "first");
        var home = (await OnSilo1(colony, copies: 2)).Silo; // not silo-0, so the test may kill it
        var value = new string('v', 4000);
        for (var i = 1; i < 150; i++)
        {
            await model.Put($"k{i:d3}", $"{value}{i}"); // it divides by size on its way, its leaves on its silo with its copies
        }

        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        await Eventually.Until(() => root.GetTree(1, false), t => t.Role == KblRole.Interior && t.Children.All(c => c.Replicas is { InSync: 2 }), Settle, "leaves with their copies");

        // Rebuilds slowed to a crawl: a merged leaf that had to rebuild its copy (about 200 KB) would have one for seconds.
        using (var slow = new SlowRebuilds(fixture, 16_384))
        {
            for (var i = 50; i < 150; i++)
            {
                await model.Delete($"k{i:d3}"); // down to 50 keys: once cold, its leaves merge back into it
            }

            var merged = await Eventually.Until(() => Tree(colony), t => t is { Role: KblRole.Leaf }, Settle, "the merge back into one leaf");
            Assert.True(merged!.Replicas is { Status: "redundant", InSync: 2 }, $"the merged leaf starts with {merged.Replicas?.InSync} copies in sync ({merged.Replicas?.Status})");
            Assert.Equal(home, merged.Silo);
            var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Copies();
            Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 50 }));
            Assert.Single(copies.Copies.Select(c => c.Digest).Distinct()); // its copy is its records, byte for byte
            Assert.Equal(0, slow.Rebuilds);

            // Its silo dies at once: it is served from the copy it took over.
            await KillAndServe(home, model, "k200");
        }

        await fixture.Restart(home);
        await model.Check();
    }

    [Fact]
    public async Task A_merge_of_leaves_whose_copies_share_no_silo_starts_with_two_copies_so_losing_its_silo_right_after_loses_nothing()
    {
        var (colony, model, home) = await LeavesWithNoCommonCopy();

        // Rebuilds slowed to a crawl: a merged leaf that rebuilt its copy after the merge (about 50 KB) would have one for seconds.
        using (new SlowRebuilds(fixture, 16_384))
        {
            var merged = await MergeBack(colony, model);
            Assert.True(merged.Replicas is { Status: "redundant", InSync: 2 }, $"the merged leaf starts with {merged.Replicas?.InSync} copies in sync ({merged.Replicas?.Status})");
            Assert.Equal(home, merged.Silo);
            var member = merged.Replicas!.Members.Single().Silo;
            Assert.True(
                CrashableCluster.ZoneOf(KblTestCluster.Index(member)) != CrashableCluster.ZoneOf(KblTestCluster.Index(home)),
                $"the copy the merge made is on {member}, in the zone of its primary's silo {home}"); // the other zone's silo was free
            var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Copies();
            Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 50 }));
            Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());

            // Its silo dies at once: it is served from the copy the merge made.
            await KillAndServe(home, model, "k200");
        }

        await fixture.Restart(home);
        await model.Check();
    }

    /// <summary>
    /// The copy a merge makes of its records (its leaves sharing no silo that holds their copies) loses a message on
    /// the way: the merge goes on without it (and says so in the log), the merged leaf rebuilds its copy, and nothing is
    /// lost or seen by clients.
    /// </summary>
    [Theory]
    [InlineData("IReplicaGrain.Seal", FaultTiming.Before)]
    [InlineData("IReplicaGrain.BeginInstall", FaultTiming.Before)]
    [InlineData("IReplicaGrain.InstallPage", FaultTiming.After)]
    [InlineData("IReplicaGrain.EndInstall", FaultTiming.After)]
    [InlineData("IReplicaGrain.Append", FaultTiming.Before)]
    public async Task A_merge_whose_copy_loses_a_message_still_loses_nothing(string step, FaultTiming timing)
    {
        var (colony, model, home) = await LeavesWithNoCommonCopy();
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);

        // Calls to the merged leaf's copy on another silo (none before the merge; not its leaves' copies, whose deletes
        // go on meanwhile, nor the seal of its own copy on its silo).
        var fault = new Fault(step, FaultSide.Callee, timing, FaultKind.Lose) { TargetEndsWith = $"|{id}", Spared = home };
        try
        {
            fixture.Faults.Arm(fault);
            await MergeBack(colony, model);
            Assert.True(fixture.Faults.Fired.IsCompleted, $"the fault ({fault}) never struck");
            Assert.Contains("could not be made before the merge completed", fixture.Log.Lines(id), StringComparison.Ordinal); // the fault struck the copy
            await Redundant(colony, 2);
            await model.Check();
            var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Copies();
            Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 50 }));
            Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
            Assert.True(model.Errors.Count == 0, $"clients saw errors:\n{string.Join('\n', model.Errors.Take(10))}");
        }
        catch
        {
            output.WriteLine($"Kbl's log for {id}:\n{fixture.Log.Lines(id)}");
            throw;
        }
    }

    /// <summary>
    /// A two-copy colony divided into leaves on silo-1 (zone-a, which a test may kill) with their copies on silo-2
    /// (zone-b), one of them handed to silo-2: no silo but their parent's then holds a copy of every leaf, so a merge
    /// cannot put the copies its leaves had together into the merged leaf's. Every copy is already in another zone
    /// than its primary, so no re-spread changes that before the merge. 150 keys of about 1 KB.
    /// </summary>
    private async Task<(string Colony, ColonyModel Model, string Home)> LeavesWithNoCommonCopy()
    {
        await fixture.EnsureUp("silo-2"); // a test before this one may have left it down
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1, genome => genome with { SplitKeys = 100, MergeKeys = 80, SplitOpsPerSecond = 1e9, Hysteresis = TimeSpan.FromSeconds(1) });
        await model.Put("k000", "first");

        // Its copy on silo-2 before it divides: were it on silo-0, in the zone of its leaves' silo, the re-spread
        // would move their copies to silo-2 while the test runs, and the leaf handed to silo-0 could have its own copy
        // there too, one silo holding a copy of every leaf.
        var home = (await OnSilo1WithCopyOnSilo2(colony)).Silo;
        var value = new string('v', 1000);
        for (var i = 1; i < 150; i++)
        {
            await model.Put($"k{i:d3}", $"{value}{i}"); // it divides on its way, its leaves on its silo with its copies
        }

        var root = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        var divided = await Eventually.Until(() => root.GetTree(1, false), t => t.Role == KblRole.Interior && t.Children.All(c => c.Replicas is { InSync: 2 }), Settle, "leaves with their copies");
        var handed = divided.Children[^1];
        Assert.Equal(["silo-2"], handed.Replicas!.Members.Select(m => m.Silo));
        Assert.True(await fixture.Grains.GetGrain<IKblPlacementGrain>(handed.Id).Relocate(home, "silo-2") >= 0);
        var leaves = await Eventually.Until(
            () => root.GetTree(1, false),
            t => t.Children.Single(c => c.Id == handed.Id) is { Replicas: { InSync: 2 } } leaf && leaf.Silo == "silo-2",
            Settle,
            $"the leaf {handed.Path} on silo-2 with two copies");
        var common = leaves.Children.Select(c => c.Replicas!.Members.Select(m => m.Silo)).Aggregate((a, b) => a.Intersect(b)).ToList();
        Assert.True(common.Count == 0, $"silos holding a copy of every leaf: {string.Join(", ", common)}");
        return (colony, model, home);
    }

    /// <summary>Deletes all but 50 keys of <see cref="LeavesWithNoCommonCopy"/>'s colony, and waits until its leaves merged back into one.</summary>
    private async Task<KblView> MergeBack(string colony, ColonyModel model)
    {
        for (var i = 50; i < 150; i++)
        {
            await model.Delete($"k{i:d3}");
        }

        return (await Eventually.Until(() => Tree(colony), t => t is { Role: KblRole.Leaf }, Settle, "the merge back into one leaf"))!;
    }

    [Fact]
    public async Task A_silo_that_was_down_when_its_copy_stopped_counting_drops_that_copy_when_it_starts()
    {
        // The copy on silo-2 is made again on silo-0, and then the leaf divides (its children take their copies from
        // the one on silo-0): the copy on silo-2 belongs to a KBL that holds no shard any more.
        var (colony, model, _) = await CopyMadeAgainInZoneA(genome => genome with { SplitOpsPerSecond = 1e9, SplitKeys = 60, MergeKeys = 0, MergeBytes = 0 });
        var (id, replaced) = (ColonyNames.KblId(colony, ColonyNames.RootPath), "silo-2");
        for (var i = 51; i < 70; i++)
        {
            await model.Put($"k{i:d2}", $"v{i}");
        }

        await Eventually.Until(() => Tree(colony), t => t?.Role == KblRole.Interior, Settle, "the leaf divided");

        // silo-2 comes back with its disk, and with the copy nobody reads any more: it asks, and drops it.
        await fixture.Restart(replaced);
        await Eventually.Until(
            () => fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(replaced, id)).Digest(Kbl.Keys.KeyRange.All),
            digest => digest.Records == 0,
            Settle,
            "the copy on silo-2 dropped");
        Assert.Contains($"silo {replaced} dropped a stray copy", fixture.Log.Lines(id), StringComparison.Ordinal);
        await model.Check();
    }

    [Fact]
    public async Task A_copy_made_again_in_the_primarys_zone_goes_back_to_the_other_zone_when_a_silo_there_returns()
    {
        var (colony, model, crowded) = await CopyMadeAgainInZoneA(genome => genome with { SplitOpsPerSecond = 1e9 });
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        Assert.Equal("silo-0", crowded.Replicas!.Members.Single().Silo);

        // silo-2 returns: the copy goes back to zone-b, by way of a third copy (the leaf never has fewer than two in
        // sync), and the one on silo-0 is dropped.
        await fixture.Restart("silo-2");
        await model.Put("k51", "while the copy moves");
        var after = (await Eventually.Until(
            () => Tree(colony),
            t => t?.Replicas is { Status: "redundant", InSync: 2 } r && r.Members.Count == 1 && r.Members.Single().Silo == "silo-2",
            Settle,
            "the copy back on silo-2 and the one on silo-0 gone"))!;
        Assert.Equal("silo-1", after.Silo);
        await Eventually.Until(
            () => fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key("silo-0", id)).Digest(Kbl.Keys.KeyRange.All),
            digest => digest.Records == 0,
            Settle,
            "the copy on silo-0 dropped");
        var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Copies();
        Assert.Equal(2, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 52 }));
        Assert.Single(copies.Copies.Where(c => c.InSync).Select(c => c.Digest).Distinct());
        await model.Check();
    }

    [Fact]
    public async Task A_copy_whose_drop_was_lost_while_its_silo_stayed_up_goes_at_that_silos_next_sweep()
    {
        var (model, id, member, copy) = await FiftyRecordsAndTheirCopy();

        // The colony goes to one copy; the drop its leaf sends the member is lost (no silo restarts).
        var fault = new Fault("IReplicaGrain.Drop", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose) { TargetEndsWith = $"|{id}" };
        try
        {
            fixture.Faults.Arm(fault);
            await ToOneCopy(id);
            await fixture.Faults.Fired.WaitAsync(Settle);
        }
        finally
        {
            fixture.Faults.Disarm();
        }

        Assert.Equal(50, (await copy.Digest(Kbl.Keys.KeyRange.All)).Records);

        // The member's silo sweeps again while it stays up (every Kbl:StrayCopySweepPeriod): the copy goes.
        var sweeper = fixture.LiveSilos.Single(s => KblTestCluster.StableName(s.Name) == member).ServiceProvider.GetRequiredService<StrayCopySweeper>();
        Assert.True(await sweeper.SweepNow(CancellationToken.None) >= 1);
        Assert.Equal(0, (await copy.Digest(Kbl.Keys.KeyRange.All)).Records);
        await model.Check();
    }

    [Fact]
    public async Task A_colony_switched_to_one_copy_drops_its_other_copies_without_waiting_for_a_write()
    {
        var (model, id, _, copy) = await FiftyRecordsAndTheirCopy();
        Assert.Equal(50, (await copy.Digest(Kbl.Keys.KeyRange.All)).Records);

        await ToOneCopy(id);

        // No write comes: the leaf's tick forgets its copy and has it dropped on the member's silo.
        await Eventually.Until(() => copy.Digest(Kbl.Keys.KeyRange.All), digest => digest.Records == 0, Settle, "the member's copy dropped");
        await WholeAndWritable(model);
    }

    [Fact]
    public async Task A_colony_switched_to_one_copy_takes_writes_after_its_leaf_moves()
    {
        var (model, id, member, copy) = await FiftyRecordsAndTheirCopy();
        await ToOneCopy(id);
        await Eventually.Until(() => copy.Digest(Kbl.Keys.KeyRange.All), digest => digest.Records == 0, Settle, "the member's copy dropped");

        // The leaf moves, with its one copy, to the silo that held the other (as a drain or the rebalancer moves it).
        var home = (await fixture.Grains.GetGrain<IKblGrain>(id).ViewOrNull())!.Silo;
        Assert.True(await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Relocate(home, member) >= 0);
        await model.PutAcknowledged("k50", "moved");
        await model.Check();
    }

    [Fact]
    public async Task A_colony_switched_to_one_copy_while_its_leaf_moves_keeps_every_record_and_takes_writes()
    {
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 2);
        await OnSilo1WithCopyOnSilo2(colony);

        // The switch and a move to silo-0 (no copy there) sent together: the move finds the mirror not forgotten yet,
        // or moves it as a mirrored leaf and the switch reaches the moved leaf before it started its primary there.
        var switching = ToOneCopy(id);
        var moving = fixture.Grains.GetGrain<IKblPlacementGrain>(id).Relocate("silo-1", "silo-0");
        await switching;
        output.WriteLine($"the move answered {await moving}");

        await WholeAndWritable(model);
        await NoReplicaCopy("silo-2", id);
    }

    [Fact]
    public async Task A_leaf_switched_to_one_copy_whose_home_comes_back_on_a_new_disk_before_it_forgot_its_copy_loses_nothing()
    {
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 2);
        await OnSilo1WithCopyOnSilo2(colony);

        await SwitchedToOneCopyAsItsHomeDies(id, "silo-1");

        // silo-1 comes back on an empty disk, still the leaf's home: the copy on silo-2 holds every record, and the
        // leaf, now of one copy, must take it up rather than start afresh on the empty disk and drop it.
        await fixture.RestartOnNewDisk("silo-1");
        await model.UntilServed();
        await WholeAndWritable(model);

        // It lives where the copy was, as a leaf of one copy: no replica copy left there beside its records.
        Assert.Equal("silo-2", (await Tree(colony))?.Silo);
        await NoReplicaCopy("silo-2", id);
    }

    [Fact]
    public async Task A_leaf_switched_to_one_copy_whose_home_is_lost_before_it_forgot_its_copy_is_served_from_that_copy()
    {
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 2);
        await OnSilo1WithCopyOnSilo2(colony);
        await SwitchedToOneCopyAsItsHomeDies(id, "silo-1");

        // silo-1 stays down: the copy on silo-2 holds every record, and the leaf takes over there as a mirrored one
        // would, rather than wait for a silo that may never come back.
        try
        {
            await model.UntilServed();
            await WholeAndWritable(model);
            Assert.Equal("silo-2", (await Tree(colony))?.Silo);
        }
        finally
        {
            await fixture.Restart("silo-1");
        }

        // silo-1 back with its disk, and its copy from before: the leaf stays where it took over, with every write.
        await model.Check();
        Assert.Equal("silo-2", (await Tree(colony))?.Silo);
    }

    [Fact]
    public async Task A_leaf_whose_takeover_fails_is_not_left_listed_as_active_and_takes_over_at_the_next_request()
    {
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 2);
        await OnSilo1WithCopyOnSilo2(colony);
        await fixture.Kill("silo-1");
        try
        {
            // Asked for a record, it takes over on silo-2, where its copy is (at once, or after a stale route made it on
            // silo-0 first, from where a displaced leaf migrates to a copy), and that fails: the seal of its copy is lost.
            fixture.Faults.Arm(new Fault("IReplicaGrain.Seal", FaultSide.Callee, FaultTiming.Before, FaultKind.Lose) { TargetEndsWith = id });
            await Eventually.Until(
                async () =>
                {
                    if (!fixture.Faults.Fired.IsCompleted)
                    {
                        await Record.ExceptionAsync(() => fixture.GrainsOn("silo-2").GetGrain<IKblGrain>(id).Get("k00"u8.ToArray()));
                    }

                    return fixture.Faults.Fired.IsCompleted;
                },
                fired => fired,
                Settle,
                "its takeover on silo-2");
            Assert.Equal("silo-2", (await fixture.Faults.Fired).Silo);

            // Then no silo lists it among its KBLs (what a silo reports, drains and rebalances) until one activates it.
            await Eventually.Until(() => Task.FromResult(ActiveAnywhere(id)), active => !active, Settle, "the activation that failed listed as active on no silo");
            await model.UntilServed();
            await WholeAndWritable(model);
        }
        finally
        {
            await fixture.Restart("silo-1");
        }
    }

    [Fact]
    public async Task A_leaf_whose_home_and_copy_are_down_shows_its_home_and_goes_to_its_copy_when_only_the_tree_is_read()
    {
        var (colony, _, _) = await FiftyRecordsWithSilo2Up(copies: 2);
        await OnSilo1WithCopyOnSilo2(colony);
        await fixture.Kill("silo-1");
        await fixture.Kill("silo-2");
        try
        {
            // Its home and its copy down, a tree read makes it on silo-0, where it holds nothing and serves nothing:
            // the tree shows where its records are.
            Assert.Equal("silo-1", (await Tree(colony))?.Silo);

            // Its copy's silo comes back; nobody asks for a record, the tree alone is read: the leaf goes there and
            // takes over (before, it stayed on silo-0 until a request for a record came).
            await fixture.Restart("silo-2");
            await Eventually.Until(() => Tree(colony), t => t is { Silo: "silo-2", Replicas.Primary: "silo-2" }, Settle, "the leaf taken over on silo-2");
        }
        finally
        {
            await fixture.EnsureUp("silo-2");
            await fixture.Restart("silo-1");
        }
    }

    [Fact]
    public async Task A_silo_that_starts_again_keeps_the_copy_an_idle_leaf_names_without_waking_that_leaf()
    {
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 2);
        await OnSilo1WithCopyOnSilo2(colony);

        // The leaf goes idle (not active anywhere); silo-2 dies and starts again with its disk, and its sweep asks
        // about the copies on it.
        await Idle(id);
        fixture.Faults.Watch(id);
        await fixture.Kill("silo-2");
        await RestartAndSweep("silo-2");

        // Its stored state names silo-2's copy: the sweep left it and did not wake the leaf.
        Assert.False(ActiveAnywhere(id), $"the leaf was woken; calls to it or its copies since it went idle:\n{fixture.Faults.Watched}\nwhat the silos logged of it:\n{fixture.Log.Lines(id)}");
        Assert.Equal(50, (await fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key("silo-2", id)).Digest(Kbl.Keys.KeyRange.All)).Records);
        var after = await Redundant(colony, 2);
        Assert.Equal(["silo-2"], after.Replicas!.Members.Select(m => m.Silo));
        await model.Check();
    }

    [Fact]
    public async Task A_silo_that_starts_again_wakes_an_idle_leaf_that_counts_its_copy_out_of_sync_which_then_catches_up()
    {
        // Three copies on the three silos: no spare silo, so the copy on silo-2, which dies while the leaf runs, stays
        // a member out of sync (to catch up from the log when silo-2 comes back).
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 3);
        await OnSilo1WithThreeCopies(colony);
        await fixture.Kill("silo-2");
        await model.Put("k50", "while silo-2 is down");
        await Eventually.Until(
            () => Tree(colony),
            t => t?.Replicas is { InSync: 2 } r && r.Members.Any(m => m.Silo == "silo-2" && !m.InSync),
            Settle,
            "silo-2's copy a member out of sync");

        // The leaf goes idle; silo-2 starts again with its disk, and its sweep wakes the leaf, which brings the copy
        // there back in sync: nobody had to ask the leaf for anything.
        await Idle(id);
        await RestartAndSweep("silo-2");
        Assert.True(ActiveAnywhere(id), "the leaf was not woken");
        await Redundant(colony, 3);
        var copies = await fixture.Grains.GetGrain<IKblPlacementGrain>(id).Copies();
        Assert.Equal(3, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 51 }));
        Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
        await model.Check();
    }

    [Fact]
    public async Task A_copy_its_leaf_still_names_is_never_taken_for_a_stray()
    {
        var (colony, model) = await Mirrored(copies: 3, minCopies: 1, genome => genome with { SplitOpsPerSecond = 1e9 });
        for (var i = 0; i < 50; i++)
        {
            await model.Put($"k{i:d2}", $"v{i}");
        }

        // Every silo holds a copy its leaf names (or is its home): asked as a starting silo's sweep asks, whatever
        // seal it reports, the leaf has none dropped.
        var id = ColonyNames.KblId(colony, ColonyNames.RootPath);
        var leaf = await Redundant(colony, 3);
        var placement = fixture.Grains.GetGrain<IKblPlacementGrain>(id);
        foreach (var silo in leaf.Replicas!.Members.Select(m => m.Silo).Append(leaf.Silo))
        {
            Assert.False(await placement.DropStrayCopy(silo, 0));
            Assert.False(await placement.DropStrayCopy(silo, long.MaxValue));
        }

        var copies = await placement.Copies();
        Assert.Equal(3, copies.Copies.Count(c => c.InSync && c.Digest is { Records: 50 }));
        Assert.Single(copies.Copies.Select(c => c.Digest).Distinct());
        await model.Check();
    }

    [Fact]
    public async Task A_replica_goes_to_a_zone_without_a_copy_first()
    {
        // Silos 0 and 1 are in one zone, silo 2 in another: whichever silo a leaf's primary is on, its replica is in the other zone.
        var colonies = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            colonies.Add((await Mirrored(copies: 2, minCopies: 1)).Colony);
        }

        foreach (var colony in colonies)
        {
            var leaf = await Redundant(colony, 2);
            var replica = leaf.Replicas!.Members.Single().Silo;
            Assert.True(
                ZoneOf(leaf.Silo) != ZoneOf(replica),
                $"colony {colony}: primary on {leaf.Silo} ({ZoneOf(leaf.Silo)}), replica on {replica} ({ZoneOf(replica)})");
        }

        static string ZoneOf(string silo) => CrashableCluster.ZoneOf(KblTestCluster.Index(silo));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_batch_of_writes_applies_in_order_each_under_its_own_condition(int copies)
    {
        var (colony, _) = await Mirrored(copies, minCopies: 1);
        await Redundant(colony, copies);
        var leaf = fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
        RecordWrite Put(string key, string value, Precondition? condition = null) => new(KeyOrder(key), System.Text.Encoding.UTF8.GetBytes(value), condition ?? Precondition.None);
        var results = await leaf.WriteMany(
        [
            Put("a", "1", new Precondition(null, IfNoneMatch: true)),
            Put("a", "2", new Precondition(null, IfNoneMatch: true)), // the first one created it
            Put("a", "3", new Precondition(null, false, IfExists: true)),
            new RecordWrite(KeyOrder("b"), null, Precondition.None), // nothing to delete
            Put("b", "x"),
            Put("c", "y"),
            new RecordWrite(KeyOrder("c"), null, Precondition.None),
        ]);

        Assert.Equal(
            [KblStatus.Ok, KblStatus.PreconditionFailed, KblStatus.Ok, KblStatus.NotFound, KblStatus.Ok, KblStatus.Ok, KblStatus.Ok],
            results.Select(r => r.Status));
        var first = results[0].Version;
        Assert.Equal(first, results[1].Version); // the version the failed condition met
        Assert.Equal([first + 1, first + 2, first + 3, first + 4], new[] { results[2], results[4], results[5], results[6] }.Select(r => r.Version));
        var a = await leaf.Get(KeyOrder("a"));
        Assert.Equal(("3", first + 1), (System.Text.Encoding.UTF8.GetString(a.Value!), a.Version));
        Assert.Equal(("x", first + 2), (System.Text.Encoding.UTF8.GetString((await leaf.Get(KeyOrder("b"))).Value!), (await leaf.Get(KeyOrder("b"))).Version));
        Assert.Equal(KblStatus.NotFound, (await leaf.Get(KeyOrder("c"))).Status);

        // The next write takes the version after the batch's last.
        Assert.Equal(first + 5, (await leaf.Put(KeyOrder("d"), "z"u8.ToArray(), Precondition.None)).Version);
    }

    [Fact]
    public async Task Writes_that_travel_together_are_on_both_copies_and_keep_their_conditions()
    {
        var (colony, model) = await Mirrored(copies: 2, minCopies: 1);
        await Redundant(colony, 2);
        var (requests, calls) = fixture.Router.Hops;

        // 64 writers at once on one leaf, each creating its own key and racing for one key only one may create.
        var key = KeyOrder("only-one");
        var racers = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            await model.Put($"w{i:d2}", $"v{i}");
            return await fixture.Router.Write(colony, new RecordWrite(key, System.Text.Encoding.UTF8.GetBytes($"r{i}"), new Precondition(null, IfNoneMatch: true)));
        }));
        Assert.Single(racers, r => r.Status == KblStatus.Ok);
        Assert.Equal(63, racers.Count(r => r.Status == KblStatus.PreconditionFailed));
        var (requestsAfter, callsAfter) = fixture.Router.Hops;
        Assert.True(callsAfter - calls < requestsAfter - requests, $"{requestsAfter - requests} writes took {callsAfter - calls} grain calls: none travelled together");

        // Acknowledged means on both copies: the primary's silo dies and the replica serves every write.
        var primary = (await Redundant(colony, 2)).Silo;
        await fixture.Kill(primary);
        await model.UntilServed();
        var winner = racers.Single(r => r.Status == KblStatus.Ok);
        var read = await fixture.Router.Send(colony, key, g => g.Get(key));
        Assert.Equal(winner.Version, read.Version);
        await model.Delete("only-one"); // the model knows every key then
        await model.Check();
        await fixture.Restart(primary);
    }

    /// <summary>A colony of one leaf (default thresholds, unless <paramref name="shape"/> changes them) kept in <paramref name="copies"/> copies.</summary>
    private async Task<(string Colony, ColonyModel Model)> Mirrored(int copies, int minCopies, Func<Genome, Genome>? shape = null, ColonyRouter? router = null, string? name = null)
    {
        var colony = name ?? NewColonyName();
        var genome = Genome.Default with { Redundancy = copies == 1 ? Redundancy.None : new Redundancy(RedundancyMode.Mirror, copies, minCopies) };
        // Through silo-0, which no test stops, as the test client may still name a silo an earlier test drained.
        await fixture.GrainsOn("silo-0").GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Configure(shape?.Invoke(genome) ?? genome);
        return (colony, new ColonyModel(router ?? fixture.Router, colony));
    }

    /// <summary>Kills <paramref name="silo"/>; the colony is then served whole from its copies, and takes a write of <paramref name="key"/>.</summary>
    private async Task KillAndServe(string silo, ColonyModel model, string key)
    {
        await fixture.Kill(silo);
        await model.UntilServed();
        await model.Check();
        await model.Put(key, "after");
        await model.Check();
    }

    private static string NewColonyName() => $"m{Guid.NewGuid():N}"[..12];

    /// <summary>Waits until the colony's root (its one leaf) has <paramref name="copies"/> copies in sync (none on silo <paramref name="without"/>).</summary>
    private async Task<KblView> Redundant(string colony, int copies, string? without = null) =>
        (await Eventually.Until(
            () => Tree(colony),
            t => copies == 1 ? t is { Role: KblRole.Leaf } : t?.Replicas is { Status: "redundant" } r && r.InSync == copies && r.Primary != without && r.Members.All(m => m.Silo != without),
            Settle,
            $"{copies} copies in sync"))!;

    /// <summary>
    /// The colony's one leaf, with three copies in sync, handed to silo-1 first if it is elsewhere (a hand-over: every
    /// silo holds a copy in sync), so a test may stop or crash its primary's silo (never silo-0, which holds the test
    /// cluster's membership).
    /// </summary>
    private Task<KblView> OnSilo1WithThreeCopies(string colony) => OnSilo1(colony, copies: 3);

    /// <summary>
    /// A colony of one leaf with two copies and fifty records, its primary on silo-1 (zone-a) and its copy on silo-2
    /// (zone-b), which dies: the only silo left for a copy is silo-0, in zone-a too. After one more write (k50), the
    /// leaf with its two copies in sync without silo-2, which stays down.
    /// </summary>
    private async Task<(string Colony, ColonyModel Model, KblView Leaf)> CopyMadeAgainInZoneA(Func<Genome, Genome> shape)
    {
        var (colony, model, _) = await FiftyRecordsWithSilo2Up(copies: 2, shape);
        await OnSilo1WithCopyOnSilo2(colony);
        await fixture.Kill("silo-2");
        await model.Put("k50", "while silo-2 is down");
        return (colony, model, await Redundant(colony, 2, without: "silo-2"));
    }

    /// <summary>
    /// The colony's one two-copy leaf on silo-1 (zone-a) with its copy on silo-2 (zone-b): the re-spread puts it there
    /// when it was made on silo-0 first (which silo a copy is made on first depends on the leaves earlier tests left).
    /// </summary>
    private async Task<KblView> OnSilo1WithCopyOnSilo2(string colony)
    {
        await OnSilo1(colony, copies: 2);
        return (await Eventually.Until(
            () => Tree(colony),
            t => t?.Silo == "silo-1" && t.Replicas is { InSync: 2 } r && r.Members.Select(m => m.Silo).SequenceEqual(["silo-2"]),
            Settle,
            "the leaf on silo-1 with its one copy on silo-2"))!;
    }

    /// <summary>The colony's one leaf on silo-1 (moved there if it is elsewhere), with <paramref name="copies"/> copies in sync.</summary>
    private async Task<KblView> OnSilo1(string colony, int copies)
    {
        if ((await Redundant(colony, copies)).Silo is var first && first != "silo-1")
        {
            Assert.True(await fixture.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Relocate(first, "silo-1") >= 0);
        }

        return (await Eventually.Until(() => Tree(colony), t => t?.Silo == "silo-1" && t.Replicas?.InSync == copies, Settle, $"the leaf on silo-1 with {copies} copies"))!;
    }

    /// <summary>Deactivates every activation of KBL <paramref name="id"/> (a hand-over leaves the old one for a moment): it is idle, active on no silo.</summary>
    private Task Idle(string id) => Eventually.Until(
        async () =>
        {
            if (ActiveAnywhere(id))
            {
                // (Through the grain, not the test cluster's DeactivateAsync: that one does not see a silo started again.)
                await fixture.Grains.GetGrain<IKblGrain>(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();
            }

            return ActiveAnywhere(id);
        },
        active => !active,
        Settle,
        $"KBL {id} active nowhere");

    /// <summary>Whether KBL <paramref name="id"/> has an activation on a live silo.</summary>
    private bool ActiveAnywhere(string id) => fixture.LiveSilos.Any(s => s.ServiceProvider.GetRequiredService<LocalKbls>().Snapshot().Any(k => k.Id == id));

    /// <summary>Starts <paramref name="silo"/> again (killed before) and waits until its start-of-silo sweep of its copies has ended (the log says so).</summary>
    private async Task RestartAndSweep(string silo)
    {
        var before = LastSweep();
        await fixture.Restart(silo);
        await Eventually.Until(() => Task.FromResult(LastSweep()), last => last != before, Settle, $"{silo}'s sweep of its copies");

        string LastSweep() => fixture.Log.Lines($"Silo {silo} dropped").Split('\n')[^1]; // with its time
    }

    /// <summary>A colony of one leaf with <paramref name="copies"/> copies and fifty records, silo-2 up (a test before may have left it down).</summary>
    private async Task<(string Colony, ColonyModel Model, string Id)> FiftyRecordsWithSilo2Up(int copies, Func<Genome, Genome>? shape = null)
    {
        await fixture.EnsureUp("silo-2");
        var (colony, model) = await Mirrored(copies, minCopies: 1, shape);
        for (var i = 0; i < 50; i++)
        {
            await model.Put($"k{i:d2}", $"v{i}");
        }

        return (colony, model, ColonyNames.KblId(colony, ColonyNames.RootPath));
    }

    /// <summary>A two-copy colony of one leaf with fifty records (<see cref="FiftyRecordsWithSilo2Up"/>): its model, its KBL, its member's silo and that member's copy.</summary>
    private async Task<(ColonyModel Model, string Id, string Member, IReplicaGrain Copy)> FiftyRecordsAndTheirCopy()
    {
        var (colony, model, id) = await FiftyRecordsWithSilo2Up(copies: 2);
        var member = (await Redundant(colony, 2)).Replicas!.Members.Single().Silo;
        return (model, id, member, fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(member, id)));
    }

    /// <summary>
    /// Switches the one-leaf colony of KBL <paramref name="id"/> to one copy and kills its home silo
    /// <paramref name="home"/> right after the switch is saved there, before the leaf forgot its copies (the call's turn
    /// hangs until the kill: no tick or write comes in between).
    /// </summary>
    private async Task SwitchedToOneCopyAsItsHomeDies(string id, string home)
    {
        fixture.Faults.Arm(new Fault("IKblGrain.Configure", FaultSide.Callee, FaultTiming.After, FaultKind.Crash) { TargetEndsWith = id });
        var switching = ToOneCopy(id);
        var (_, struck) = await fixture.Faults.Fired.WaitAsync(Settle);
        Assert.Equal(home, struck);
        await fixture.Kill(home);
        await Assert.ThrowsAnyAsync<Exception>(() => switching);
    }

    /// <summary>Every record the client may expect reads back, and a put is acknowledged (and reads back too).</summary>
    private static async Task WholeAndWritable(ColonyModel model)
    {
        await model.Check();
        await model.PutAcknowledged("k50", "one copy");
        await model.Check();
    }

    /// <summary>Waits until the replica copy of KBL <paramref name="id"/> on <paramref name="silo"/> holds nothing.</summary>
    private Task NoReplicaCopy(string silo, string id) => Eventually.Until(
        () => fixture.Grains.GetGrain<IReplicaGrain>(IReplicaGrain.Key(silo, id)).Digest(Kbl.Keys.KeyRange.All), digest => digest.Records == 0, Settle, $"no replica copy on {silo}");

    /// <summary>Switches the colony whose root is KBL <paramref name="id"/> to one copy (through silo-0).</summary>
    private Task ToOneCopy(string id) => fixture.GrainsOn("silo-0").GetGrain<IKblGrain>(id).Configure(Genome.Default with { Redundancy = Redundancy.None });

    /// <summary>The colony's root as the tree shows it; null while it cannot be reached.</summary>
    private Task<KblView?> Tree(string colony) => fixture.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).ViewOrNull();

    private static byte[] KeyOrder(string key) => Kbl.Keys.KeyOrder.Encode(key);
}
