using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Keys;
using Kbl.Placement;

namespace Kbl.Tree;

// The colony: the root creates it and changes its genome; every KBL takes genome changes and passes them down.
public sealed partial class KblGrain
{
    public async Task<Genome> Configure(Genome genome)
    {
        if (!IsRoot)
        {
            throw new InvalidOperationException("Only a colony's root is configured.");
        }

        if (Deleting && !await AwaitDeleteRun())
        {
            throw new ColonyConflictException($"colony '{_colony}' is still being deleted ({_deleteBlocker}); create it again once the delete has finished");
        }

        if (State.Role != KblRole.None)
        {
            // A colony moves only into a node group with a silo up: otherwise the change is refused (503) before
            // anything is stored, so the caller can retry once the group exists.
            var moves = genome.NodeGroup != State.Genome.NodeGroup;
            if (moves && load.SilosOfGroup(genome.NodeGroup).Count == 0 && (await load.WaitForGroup(genome.NodeGroup)).Count == 0)
            {
                throw new NodeGroupUnavailableException(genome.NodeGroup);
            }

            await UpdateGenome(genome);
            if (moves && (await Move(genome.NodeGroup)).Error is not null)
            {
                throw new NodeGroupUnavailableException(genome.NodeGroup);
            }

            return genome;
        }

        if (placement.Value.WhenGroupMissing == WhenGroupMissing.Wait && (await load.WaitForGroup(genome.NodeGroup)).Count == 0)
        {
            throw new NodeGroupUnavailableException(genome.NodeGroup);
        }

        // Registered first: a cluster at its cap (Kbl:MaxColonies) refuses before anything is written.
        await Registry.Register(_colony);
        State.Role = KblRole.Leaf;
        State.Range = KeyRange.All;
        State.Genome = genome;
        State.Home = silo.Name;
        State.Incarnation = Random.Shared.NextInt64(1, long.MaxValue);
        State.EpochBase = time.GetUtcNow().ToUnixTimeMilliseconds() * 1000;
        State.Epoch++;
        State.ShapeChangedAt = time.GetUtcNow();
        await Save();
        store.DeleteColony(_colony); // whatever an earlier life of the colony left on this disk (this silo was down during its delete)
        LoadShard();
        StartTimer();
        KblLog.ColonyCreated(logger, _colony);
        if (silo.NodeGroup != genome.NodeGroup && load.SilosOfGroup(genome.NodeGroup) is { Count: > 0 } groupSilos)
        {
            // The root was activated before it knew its group: it moves there now, while it is still empty.
            await RelocateCore(silo.Name, load.PickLeastLoaded(groupSilos));
        }

        return State.Genome;
    }

    public Task<Genome?> GetGenome() => Task.FromResult(State.Role == KblRole.None || Deleting ? null : State.Genome);

    public async Task UpdateGenome(Genome genome)
    {
        if (State.Role == KblRole.None)
        {
            return;
        }

        // Every KBL keeps its own node group: that changes only by a move. A leaf no longer mirrored forgets its
        // replicas, and drops their copies, at its next write or tick (ForgetMirror).
        State.Genome = genome with { NodeGroup = State.Genome.NodeGroup };
        await Save();
        if (_timer is not null)
        {
            StartTimer(); // a leaf keeps itself active while it may hibernate
        }

        if (State.Role == KblRole.Interior)
        {
            await Task.WhenAll(State.Children.Select(c => Child(c.Path).UpdateGenome(genome)));
        }
    }
}
