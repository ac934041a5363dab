using Orleans.Concurrency;

namespace Kbl.Provisioning;

/// <summary>
/// The cluster's one provisioning grain (key <see cref="Key"/>): colony roots report demand, a policy turns it into
/// a desired state every period, which is persisted and then published to the deployment queue; Provisioners report
/// what they observed.
/// </summary>
public interface IProvisioningGrain : IGrainWithStringKey
{
    const string Key = "cluster";

    [OneWay]
    Task ReportDemand(ColonyDemand demand);

    Task<ProvisioningPlan> GetPlan();

    /// <summary>
    /// A colony was deleted: its demand, and the groups dedicated to its subtrees, leave the plan; late reports of
    /// that life of the colony (<paramref name="incarnation"/>) are ignored.
    /// </summary>
    Task ForgetColony(string colony, long incarnation);

    Task ReportObserved(ObservedState observed);

    /// <summary>Keeps <paramref name="nodeGroup"/> in the plan (at least its minimum size) even while no colony lives in it.</summary>
    Task Stand(string nodeGroup);

    /// <summary>
    /// A request waits for a silo of <paramref name="nodeGroup"/>, which has none up (a KBL to place there, a
    /// hibernated leaf to wake): the group gets at least one node at once, and keeps it for a cool-down.
    /// </summary>
    [OneWay]
    Task Want(string nodeGroup);

    /// <summary>Runs one policy step now (as the period timer does) and returns the desired state it left.</summary>
    Task<DesiredState> Evaluate();
}
