using Orleans.Runtime.Placement;

namespace Kbl.Placement;

public sealed class SiloPinnedPlacementDirector(SiloDirectory directory) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var name = target.GrainIdentity.Key.ToString();
        var silos = await directory.Resolve(context.GetCompatibleSilos(target));
        return silos.FirstOrDefault(s => s.Identity.Name == name).Address
            ?? throw new SiloUnavailableException($"silo '{name}' is not up");
    }
}
