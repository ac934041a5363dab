using Kbl.Grains;
using Kbl.Tree;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Placement;

/// <summary>
/// Each silo, every <c>Kbl:Placement:RebalancePeriod</c>: (1) sends home the leaves that run outside their node
/// group when a silo of that group is up (but mirrored ones, which go by themselves); (2) when it holds more than its share of its group's leaves, moves a
/// few (at most <c>MaxMovesPerRound</c>, the smallest first) to the least-loaded silo of the group. Decisions are
/// local, from the load board, and bounded in rate so serving goes on.
/// </summary>
public sealed partial class KblRebalancer(
    IGrainFactory grains,
    ClusterLoad load,
    LocalKbls local,
    SiloIdentity me,
    IOptions<KblPlacementOptions> options,
    TimeProvider time,
    ILogger<KblRebalancer> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _loop;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(KblRebalancer), ServiceLifecycleStage.Active + 2, _ =>
        {
            if (options.Value.RebalancePeriod > TimeSpan.Zero)
            {
                _loop = Loop();
            }

            return Task.CompletedTask;
        }, async _ =>
        {
            await _stopping.CancelAsync();
            if (_loop is not null)
            {
                await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        });

    /// <summary>One round; returns the number of leaves moved.</summary>
    public async Task<int> Rebalance()
    {
        var moves = 0;
        var leaves = local.Snapshot().Where(k => k.Role == KblRole.Leaf).ToList();

        // (A mirrored leaf goes by itself: it builds copies in its group and hands its shard to one.)
        foreach (var stray in leaves.Where(l => l.NodeGroup != me.NodeGroup && !l.Mirrored))
        {
            if (moves < options.Value.MaxMovesPerRound && load.SilosOfGroup(stray.NodeGroup) is { Count: > 0 } home &&
                await grains.GetGrain<IKblPlacementGrain>(stray.Id).Relocate(me.Name, load.PickLeastLoaded(home)) >= 0)
            {
                moves++;
            }
        }

        var group = load.SilosOfGroup(me.NodeGroup);
        var mine = leaves.Where(l => l.NodeGroup == me.NodeGroup).OrderBy(l => l.Bytes).ToList();
        if (group.Count < 2 || !group.Contains(me.Name)) // (not in it: this silo is draining, its drain moves its leaves)
        {
            return moves;
        }

        var counts = group.ToDictionary(s => s, s => s == me.Name ? mine.Count : load.LoadOf(s).Leaves, StringComparer.Ordinal);
        var fair = (int)Math.Ceiling(counts.Values.Sum() / (double)group.Count);
        foreach (var leaf in mine)
        {
            if (moves >= options.Value.MaxMovesPerRound || counts[me.Name] <= fair)
            {
                break;
            }

            if (Target(counts, me.Name, leaf.InSyncCopies) is not { } target)
            {
                break; // moving would not even out anything
            }

            if (await grains.GetGrain<IKblPlacementGrain>(leaf.Id).Relocate(me.Name, target) >= 0)
            {
                counts[me.Name]--;
                counts[target]++;
                moves++;
            }
        }

        if (moves > 0)
        {
            LogRebalanced(logger, me.Name, moves, me.NodeGroup);
        }

        return moves;
    }

    /// <summary>
    /// Where a leaf of silo <paramref name="me"/> goes to even out the leaf counts: any silo that would still hold
    /// fewer leaves than this one does, and among them one holding an in-sync copy of the leaf first (a hand-over:
    /// nothing is copied, and its other copies stay in sync), then the one with the fewest. Null when no move evens
    /// anything out.
    /// </summary>
    public static string? Target(IReadOnlyDictionary<string, int> counts, string me, IReadOnlyList<string> inSyncCopies)
    {
        var evening = counts.Where(c => c.Key != me && c.Value + 1 < counts[me]).ToList();
        var holders = evening.Where(c => inSyncCopies.Contains(c.Key)).ToList();
        return evening.Count == 0 ? null : (holders.Count > 0 ? holders : evening).MinBy(c => c.Value).Key;
    }

    public void Dispose() => _stopping.Dispose();

    private async Task Loop()
    {
        using var timer = new PeriodicTimer(options.Value.RebalancePeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                try
                {
                    await Rebalance();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogRebalanceFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information, Message = "Silo {Silo} moved {Moves} leaves to even out node group {NodeGroup}")]
    private static partial void LogRebalanced(ILogger logger, string silo, int moves, string nodeGroup);

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Rebalancing failed: {Error}")]
    private static partial void LogRebalanceFailed(ILogger logger, string error);
}
