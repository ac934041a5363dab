using System.Collections.Concurrent;
using Kbl.Grains;
using Kbl.Tree;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Placement;

/// <summary>
/// This silo's picture of the cluster: which silos are active (membership), who they are (silo metadata) and how
/// loaded they are (the load board, refreshed every <c>Kbl:Placement:LoadRefresh</c>). Placement, splits,
/// moves and rebalancing choose silos from it without a round trip.
/// </summary>
public sealed partial class ClusterLoad(
    IGrainFactory grains,
    IClusterMembershipService membership,
    SiloDirectory directory,
    LocalKbls local,
    SiloIdentity me,
    ILocalSiloDetails localSilo,
    IOptions<KblPlacementOptions> options,
    TimeProvider time,
    ILogger<ClusterLoad> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly ConcurrentDictionary<string, int> _placedSinceRefresh = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private IReadOnlyDictionary<string, SiloStats> _board = new Dictionary<string, SiloStats>();
    private Task? _loop;

    /// <summary>The active silos with their identities (a silo whose metadata has not arrived yet is left out).</summary>
    public IReadOnlyList<(SiloAddress Address, SiloIdentity Identity)> ActiveSilos() =>
        [.. membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => (m.SiloAddress, Identity: directory.Find(m.SiloAddress)))
            .Where(s => s.Identity is not null)
            .Select(s => (s.SiloAddress, s.Identity!))];

    public SiloAddress? AddressOf(string silo) => ActiveSilos().FirstOrDefault(s => s.Identity.Name == silo).Address;

    /// <summary>The zone of an active silo (null when it is not up).</summary>
    public string? ZoneOf(string silo) => ActiveSilos().FirstOrDefault(s => s.Identity.Name == silo).Identity?.Zone;

    /// <summary>The last posted load of a silo (none yet: an empty silo).</summary>
    public SiloStats LoadOf(string silo) =>
        silo == me.Name ? LocalStats() : _board.GetValueOrDefault(silo) ?? new SiloStats(silo, "", "", "", 0, 0, 0, 0, 0, default);

    /// <summary>
    /// The least-loaded of <paramref name="candidates"/>: fewest KBL activations (counting those placed here since
    /// the last refresh), then fewest bytes, then name. Counts the choice, so a burst of placements spreads.
    /// </summary>
    public string PickLeastLoaded(IEnumerable<string> candidates)
    {
        var pick = candidates
            .Select(name => (Name: name, Load: LoadOf(name)))
            .OrderBy(c => c.Load.KblActivations + _placedSinceRefresh.GetValueOrDefault(c.Name))
            .ThenBy(c => c.Load.Bytes)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .First().Name;
        _placedSinceRefresh.AddOrUpdate(pick, 1, (_, n) => n + 1);
        return pick;
    }

    /// <summary>
    /// The active silos of a node group that take KBLs in: a silo that posted that it is draining (stopping) is left
    /// out, so no placement, move or new copy goes to it.
    /// </summary>
    public IReadOnlyList<string> SilosOfGroup(string nodeGroup) =>
        [.. ActiveSilos().Where(s => s.Identity.NodeGroup == nodeGroup && !IsDraining(s.Address, s.Identity.Name)).Select(s => s.Identity.Name)];

    /// <summary>Whether the silo at <paramref name="address"/> said it is draining (a post of an earlier process under its name does not count).</summary>
    public bool IsDraining(SiloAddress address, string name) =>
        name == me.Name ? local.Draining : _board.GetValueOrDefault(name) is { Draining: true } posted && posted.Address == address.ToString();

    /// <summary>
    /// Waits (bounded by <c>Kbl:Placement:WaitForGroup</c>) for a silo of the group, telling the provisioning grain
    /// that a request waits for one; empty when none came.
    /// </summary>
    public async Task<IReadOnlyList<string>> WaitForGroup(string nodeGroup)
    {
        var deadline = time.GetUtcNow() + options.Value.WaitForGroup;
        if (SilosOfGroup(nodeGroup).Count == 0)
        {
            // The wait is demand: a group scaled to zero (its colonies hibernated) gets a node back at once.
            _ = grains.GetGrain<Provisioning.IProvisioningGrain>(Provisioning.IProvisioningGrain.Key).Want(nodeGroup);
        }

        while (true)
        {
            var silos = SilosOfGroup(nodeGroup);
            if (silos.Count > 0 || time.GetUtcNow() >= deadline)
            {
                return silos;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time);
        }
    }

    public SiloStats LocalStats()
    {
        var kbls = local.Snapshot().Where(k => k.Role != KblRole.None).ToList(); // not an empty activation (a deleted KBL's)
        var leaves = kbls.Where(k => k.Role == KblRole.Leaf).ToList();
        return new SiloStats(
            me.Name,
            localSilo.SiloAddress.ToString(),
            me.NodeGroup,
            me.Zone,
            kbls.Count,
            leaves.Count,
            leaves.Count(l => l.NodeGroup == me.NodeGroup),
            leaves.Sum(l => l.Keys),
            leaves.Sum(l => l.Bytes),
            time.GetUtcNow(),
            local.Draining);
    }

    /// <summary>Posts this silo's load and takes in everyone else's.</summary>
    public async Task Refresh()
    {
        var all = await grains.GetGrain<ILoadBoardGrain>(LoadBoardGrain.Key).Post(LocalStats());
        _board = all.ToDictionary(s => s.Silo, StringComparer.Ordinal);
        _placedSinceRefresh.Clear();
    }

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ClusterLoad), ServiceLifecycleStage.Active, _ =>
        {
            _loop = Loop();
            return Task.CompletedTask;
        }, async _ =>
        {
            await _stopping.CancelAsync();
            if (_loop is not null)
            {
                await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        });

    public void Dispose() => _stopping.Dispose();

    private async Task Loop()
    {
        using var timer = new PeriodicTimer(options.Value.LoadRefresh, time);
        try
        {
            do
            {
                try
                {
                    await Refresh();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRefreshFailed(logger, e.Message);
                }
            }
            while (await timer.WaitForNextTickAsync(_stopping.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Debug, Message = "Could not refresh the cluster's load: {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string error);
}
