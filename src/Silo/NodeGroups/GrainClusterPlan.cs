using Kbl.NodeGroups;
using Kbl.Provisioning;

namespace Kbl.Silo.NodeGroups;

/// <summary>The in-silo reconciler talks to the provisioning grain directly.</summary>
public sealed class GrainClusterPlan(IGrainFactory grains) : IClusterPlan
{
    private IProvisioningGrain Grain => grains.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key);

    public async Task<DesiredState?> Current(CancellationToken cancellationToken) => (await Grain.GetPlan()).Desired;

    public Task Report(ObservedState observed, CancellationToken cancellationToken) => Grain.ReportObserved(observed);
}
