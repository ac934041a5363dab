using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Storage;
using Microsoft.Extensions.Options;

namespace Kbl.Colonies;

/// <summary>
/// The cluster's list of colonies and the cap on their number. Roots call it (a create registers, a delete marks and
/// then unregisters); it never waits on a KBL, so a root may await it inside its own turn. While deletes are
/// unfinished it asks their roots to carry on every <see cref="WakePeriod"/> (without waiting for them): a root whose
/// silo crashed mid-delete is activated again and finishes.
/// </summary>
/// <remarks>
/// Its state is the set of names, so a create or delete rewrites all of it: O(n) bytes per write in the number of
/// colonies. The cap (<c>Kbl:MaxColonies</c>, 1,000 by default) bounds that — at most about 64 KiB a write at the
/// default, one SQLite row or a few DynamoDB chunks — and creates and deletes are rare next to record writes. A
/// sharded registry would write less per create but would need every shard for a listing and for the cap.
/// </remarks>
[GrainType("kbl-colonies")]
public sealed class ColonyRegistryGrain(
    [PersistentState("colonies", KblStorage.Name)] IPersistentState<ColonyRegistryState> state,
    IOptions<KblOptions> options) : Grain, IColonyRegistryGrain
{
    public const string Key = "colonies";

    /// <summary>How often the roots of unfinished deletes are woken.</summary>
    public static readonly TimeSpan WakePeriod = TimeSpan.FromSeconds(30);

    private IGrainTimer? _wake;

    private ColonyRegistryState S => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        WakeWhileDeleting();
        return Task.CompletedTask;
    }

    public async Task Register(string colony)
    {
        if (S.Colonies.Contains(colony))
        {
            return;
        }

        var max = options.Value.MaxColonies;
        if (S.Colonies.Count >= max)
        {
            var deleting = S.Deleting.Count > 0 ? $" ({S.Deleting.Count} of them being deleted)" : "";
            throw new ColonyConflictException(
                $"the cluster holds {S.Colonies.Count} colonies{deleting}, the most Kbl:MaxColonies allows ({max}); delete one or raise the setting");
        }

        S.Colonies.Add(colony);
        await state.WriteStateAsync();
    }

    public async Task MarkDeleting(string colony)
    {
        if (S.Deleting.Add(colony) | S.Colonies.Add(colony))
        {
            await state.WriteStateAsync();
        }

        WakeWhileDeleting();
    }

    public async Task Unregister(string colony)
    {
        if (S.Colonies.Remove(colony) | S.Deleting.Remove(colony))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<IReadOnlyList<string>> List() => Task.FromResult<IReadOnlyList<string>>([.. S.Colonies.Where(c => !S.Deleting.Contains(c))]);

    public Task<IReadOnlyList<string>> ListDeleting() => Task.FromResult<IReadOnlyList<string>>([.. S.Deleting]);

    private void WakeWhileDeleting()
    {
        if (S.Deleting.Count > 0)
        {
            _wake ??= this.RegisterGrainTimer(WakeRoots, new GrainTimerCreationOptions(WakePeriod, WakePeriod) { KeepAlive = true });
        }
    }

    /// <summary>Asks the root of every unfinished delete to carry on (without waiting: a root may be waiting on this grain).</summary>
    private Task WakeRoots(CancellationToken cancellationToken)
    {
        if (S.Deleting.Count == 0)
        {
            _wake?.Dispose();
            _wake = null;
            return Task.CompletedTask;
        }

        foreach (var colony in S.Deleting)
        {
            _ = Wake(GrainFactory.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)));
        }

        return Task.CompletedTask;
    }

    private static async Task Wake(IKblGrain root)
    {
        try
        {
            await root.ResumeDelete();
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            // Its silo is down or it is busy: the next wake-up tries again.
        }
    }
}
