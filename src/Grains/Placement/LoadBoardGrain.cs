using Kbl.Grains;
using Kbl.Tree;

namespace Kbl.Placement;

/// <summary>Keeps each silo's last posted load for a few refresh periods; a silo that stops posting drops off.</summary>
[GrainType("kbl-load-board")]
public sealed class LoadBoardGrain(TimeProvider time) : Grain, ILoadBoardGrain
{
    public const string Key = "board";
    private static readonly TimeSpan Expiry = TimeSpan.FromSeconds(15);
    private readonly Dictionary<string, SiloStats> _board = new(StringComparer.Ordinal);

    public Task<IReadOnlyList<SiloStats>> Post(SiloStats stats)
    {
        _board[stats.Silo] = stats with { At = time.GetUtcNow() };
        var now = time.GetUtcNow();
        foreach (var stale in _board.Values.Where(s => now - s.At > Expiry).ToList())
        {
            _board.Remove(stale.Silo);
        }

        return Task.FromResult<IReadOnlyList<SiloStats>>([.. _board.Values]);
    }
}
