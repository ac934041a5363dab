using Kbl.Storage;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime.Placement;
using Orleans.Storage;

namespace Kbl.Placement;

/// <summary>
/// Data-local placement. A KBL's records sit on its home silo's disk, so it is placed there whenever that silo
/// is up. A KBL with no home yet (a new colony root, a child being born) goes where its parent asked (the
/// placement hint: the parent's silo, so a split moves no bytes), else to the least busy compatible silo.
/// A KBL whose home is down is placed anyway and refuses to serve (see <c>KblGrain</c>) rather than answer
/// from an empty shard.
/// </summary>
public sealed partial class KblPlacementDirector(
    SiloDirectory directory,
    [FromKeyedServices(KblStorage.Name)] IGrainStorage storage,
    ILogger<KblPlacementDirector> logger) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);
        var silos = await directory.Resolve(compatible);
        var kbl = new GrainState<KblState>(new KblState());
        await storage.ReadStateAsync(KblStorage.KblStateName, target.GrainIdentity, kbl);
        var home = kbl.State?.Home;
        if (home is not null && silos.FirstOrDefault(s => s.Identity.Name == home) is { Address: { } homeSilo })
        {
            return homeSilo;
        }

        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hinted)
        {
            return hinted;
        }

        if (home is not null)
        {
            LogHomeDown(logger, target.GrainIdentity.ToString(), home);
        }

        // No home: spread by a stable hash of the KBL id over the compatible silos (issue-3 load balancing refines this).
        var candidates = silos.Count > 0 ? silos.Select(s => s.Address).ToArray() : compatible;
        var index = (int)((uint)StableHash(target.GrainIdentity.ToString()) % (uint)candidates.Length);
        return candidates.OrderBy(s => s.ToString(), StringComparer.Ordinal).ElementAt(index);
    }

    private static int StableHash(string s)
    {
        var hash = 17;
        foreach (var c in s)
        {
            hash = unchecked((hash * 31) + c);
        }

        return hash;
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "KBL {Kbl}: home silo {Home} is not up; placing it elsewhere, where it will refuse to serve until its home returns")]
    private static partial void LogHomeDown(ILogger logger, string kbl, string home);
}
