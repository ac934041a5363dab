using Kbl.Tree;

namespace Kbl.Grains;

/// <summary>
/// Where silos post their load every few seconds and read everyone else's (one per cluster, key <c>board</c>):
/// placement and rebalancing decide from this picture without asking every silo.
/// </summary>
[Alias("kbl.ILoadBoardGrain")]
public interface ILoadBoardGrain : IGrainWithStringKey
{
    [Alias("Post")]
    Task<IReadOnlyList<SiloStats>> Post(SiloStats stats);
}
