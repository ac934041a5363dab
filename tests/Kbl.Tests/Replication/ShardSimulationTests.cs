using CsCheck;

namespace Kbl.Tests.Replication;

/// <summary>
/// The shard protocol under thousands of seeded runs of faults (see <see cref="ShardSimulation"/>): no acknowledged
/// write is lost, no read is stale, one epoch acknowledges at a time, and copies in sync agree — rebuilds from
/// snapshots streaming while writes go on, and primaries handing their shard to an in-sync copy, included.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class ShardSimulationTests
{
    [Fact]
    public void Every_run_is_linearizable_whatever_the_faults()
    {
        var (runs, productive, duringRebuilds, handOvers) = (0, 0, 0, 0);
        Gen.Select(Gen.Int, Gen.Int[1, 3], Gen.Int[2, 4]).Sample((seed, minCopies, silos) =>
        {
            var options = new SimOptions { Silos = silos, Copies = silos, MinCopies = Math.Min(minCopies, silos) };
            var simulation = new ShardSimulation(seed, options);
            var failure = simulation.Run();
            Assert.True(failure is null, $"seed {seed}, {options}: {failure}");
            runs++;
            productive += simulation.Acknowledged > 0 ? 1 : 0;
            duringRebuilds += simulation.AcknowledgedDuringRebuilds;
            handOvers += simulation.HandOvers;
        }, iter: 1000, threads: 1);

        // Faults come every few hundred milliseconds: most runs must still acknowledge writes, or they prove little.
        Assert.True(productive * 4 > runs * 3, $"only {productive} of {runs} runs acknowledged a write");

        // Rebuilds stream beside the writes: the runs must have acknowledged writes while a copy was being rebuilt.
        Assert.True(duringRebuilds > 0, "no write was acknowledged while a rebuild was under way");

        // Primaries hand their shard over now and then, amid the same faults.
        Assert.True(handOvers * 2 > runs, $"only {handOvers} hand-overs in {runs} runs");
    }

    /// <summary>
    /// A schedule where a rebuild begun before its silo crashed ends long after the silo came back: the simulation
    /// once let that call of the earlier life end the turn of a later call (a hand-over), so a read ran beside the
    /// hand-over and answered from the emptied copy — a violation of the simulation, not of the protocol (a real
    /// process stops when it crashes). It must stay linearizable.
    /// </summary>
    [Fact]
    public void A_call_that_outlived_its_silos_crash_ends_no_turn_of_the_next_life()
    {
        var options = new SimOptions { Silos = 3, Copies = 3, MinCopies = 1 };
        var simulation = new ShardSimulation(9092315, options);
        var failure = simulation.Run();
        Assert.True(failure is null, failure);
        Assert.True(simulation.HandOvers > 0 && simulation.Acknowledged > 0, "the schedule no longer hands the shard over or acknowledges writes");
    }
}
