using Kbl.Grains;
using Kbl.Storage;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Placement;
using Orleans.Storage;

namespace Kbl.Placement;

/// <summary>
/// Data-local placement within node groups. A KBL's records sit on its home silo's disk, so it goes there
/// whenever that silo is up. Otherwise it goes to a silo of its node group: the one its dividing parent named
/// (the placement hint), else the least loaded (fewest KBLs, then fewest bytes). When no silo of the group is
/// up, it waits for one (bounded) or runs elsewhere, as <c>Kbl:Placement:WhenGroupMissing</c> says; a KBL that holds
/// nothing on any disk (a hibernated leaf, an interior KBL) runs anywhere then (a hibernated leaf moves into its
/// group when a request wakes it).
/// The built-in metadata placement filters compare with the calling silo's metadata, so they cannot do this.
/// </summary>
public sealed partial class KblPlacementDirector(
    SiloDirectory directory,
    ClusterLoad load,
    [FromKeyedServices(KblStorage.Name)] IGrainStorage storage,
    IOptions<KblPlacementOptions> options,
    ILogger<KblPlacementDirector> logger) : IPlacementDirector
{
    /// <summary>The request-context key under which a caller names the node group of a KBL that has no state yet.</summary>
    public const string NodeGroupKey = "kbl.node-group";

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);
        var silos = await directory.Resolve(compatible);
        var state = await storage.ReadKblState(target.GrainIdentity);
        // An interior KBL that ran outside its group while the group had no silo goes back into it.
        var holdsNothing = state is { Role: KblRole.Interior, Transition: not { Kind: TransitionKind.Merge } };
        if (state.Home is { } home && silos.FirstOrDefault(s => s.Identity.Name == home) is { Address: { } homeSilo, Identity: var homeIdentity } &&
            (!holdsNothing || homeIdentity.NodeGroup == state.Genome.NodeGroup || silos.All(s => s.Identity.NodeGroup != state.Genome.NodeGroup)))
        {
            return homeSilo;
        }

        // Its home is down: a mirrored leaf takes over where a copy holds every acknowledged write (so does a leaf
        // switched to one copy that has not forgotten its mirror yet: its configuration still names those copies).
        if (state is { Role: KblRole.Leaf, Transition: null, HasMirror: true, Replicas: { } replicas } &&
            silos.Where(s => replicas.InSync.Any(m => m.Silo == s.Identity.Name)).ToList() is { Count: > 0 } holders)
        {
            // A migration names the holder it goes to (an activation that cannot take over where it is).
            return target.RequestContextData is { } hinting && IPlacementDirector.GetPlacementHint(hinting, [.. holders.Select(h => h.Address)]) is { } holder
                ? holder
                : Pick(Staying(holders), []);
        }

        var group = state.Role != KblRole.None
            ? state.Genome.NodeGroup
            : target.RequestContextData?.GetValueOrDefault(NodeGroupKey) as string;
        if (group is null)
        {
            // A colony root not configured yet holds nothing: any silo will do.
            return Pick(silos, compatible);
        }

        var inGroup = silos.Where(s => s.Identity.NodeGroup == group).ToList();
        if (target.RequestContextData is { } requestContext && IPlacementDirector.GetPlacementHint(requestContext, [.. inGroup.Select(s => s.Address)]) is { } hinted)
        {
            return hinted;
        }

        if (state.Home is not null && state.Role is KblRole.Leaf or KblRole.Pending or KblRole.Retired)
        {
            LogHomeDown(logger, target.GrainIdentity.ToString(), state.Home);
        }

        if (inGroup.Count > 0)
        {
            return Pick(Staying(inGroup), []);
        }

        if (state.Hibernation is not null || holdsNothing)
        {
            // It holds nothing on any disk: it answers for its stored state anywhere (the tree, its genome) — an
            // interior KBL routes (one merging holds its children's records: it waits for its home as a leaf does)
            // — while its group has no silo (scaled to zero: its leaves hibernate). A request that
            // reaches a leaf waits for the group there, and a hibernated leaf moves into it to wake.
            return Pick(silos, compatible);
        }

        if (options.Value.WhenGroupMissing == WhenGroupMissing.Wait)
        {
            var arrived = await load.WaitForGroup(group);
            if (arrived.Count > 0 && load.AddressOf(load.PickLeastLoaded(arrived)) is { } address)
            {
                return address;
            }

            throw new NodeGroupUnavailableException(group);
        }

        LogPlacedOutsideGroup(logger, target.GrainIdentity.ToString(), group);
        return Pick(silos, compatible);
    }

    /// <summary>The silos that are not draining (a KBL placed on one would have to move again at once), or all of them when every one is.</summary>
    private List<(SiloAddress Address, SiloIdentity Identity)> Staying(List<(SiloAddress Address, SiloIdentity Identity)> silos) =>
        silos.Where(s => !load.IsDraining(s.Address, s.Identity.Name)).ToList() is { Count: > 0 } staying ? staying : silos;

    private SiloAddress Pick(IReadOnlyList<(SiloAddress Address, SiloIdentity Identity)> silos, SiloAddress[] fallback)
    {
        if (silos.Count == 0)
        {
            return fallback[Random.Shared.Next(fallback.Length)];
        }

        var name = load.PickLeastLoaded(silos.Select(s => s.Identity.Name));
        return silos.First(s => s.Identity.Name == name).Address;
    }

    [LoggerMessage(EventId = 1100, Level = LogLevel.Warning, Message = "KBL {Kbl}: home silo {Home} is not up; placing it elsewhere in its group, where it refuses to serve until its home returns")]
    private static partial void LogHomeDown(ILogger logger, string kbl, string home);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "KBL {Kbl}: no silo of node group {NodeGroup} is up; placing it outside its group until one joins")]
    private static partial void LogPlacedOutsideGroup(ILogger logger, string kbl, string nodeGroup);
}
