using Orleans.Runtime.Placement;

namespace Kbl.Placement;

/// <summary>Places a grain on the silo its key names: the whole key, or the part before a '|' (<c>{silo}|{what}</c>).</summary>
public sealed class SiloPinnedPlacementDirector(SiloDirectory directory) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString()!;
        var name = key.Split('|', 2)[0];
        var silos = await directory.Resolve(context.GetCompatibleSilos(target));
        return silos.FirstOrDefault(s => s.Identity.Name == name).Address
            ?? throw new SiloUnavailableException($"silo '{name}' is not up");
    }
}
