using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Placement;

[GrainType("kbl-silo-agent")]
[SiloPinnedPlacement]
public sealed class SiloAgentGrain(RecordStore store, ClusterLoad load, LocalKbls local, SiloIdentity me) : Grain, ISiloAgentGrain
{
    public Task<SiloStats> GetStats() => Task.FromResult(load.LocalStats());

    public Task BeginImport(string colony, KeyRange range)
    {
        if (local.Draining)
        {
            // A stopping silo hands KBLs away; taking one in now would strand it here.
            throw new SiloDrainingException(me.Name);
        }

        store.ClearForArrival(colony, range);
        return Task.CompletedTask;
    }

    public Task Import(string colony, IReadOnlyList<StoredRecord> records)
    {
        store.Import(colony, records);
        return Task.CompletedTask;
    }

    public Task EndImport(string kblId, long clock)
    {
        if (local.Draining)
        {
            // The move began before this silo started to stop: it must not end here (the mover keeps its records and
            // picks another silo). A move that ended before is found by the drain's passes (the clock written here).
            throw new SiloDrainingException(me.Name);
        }

        store.WriteClock(kblId, Math.Max(clock, store.ReadClock(kblId)));
        return Task.CompletedTask;
    }

    public Task DropColony(string colony)
    {
        store.DeleteColony(colony);
        return Task.CompletedTask;
    }

    public Task<long> CountRecords(string colony, KeyRange range) =>
        Task.FromResult(store.Scan(colony, range.Lo, exclusive: false, range.Hi).LongCount());
}
