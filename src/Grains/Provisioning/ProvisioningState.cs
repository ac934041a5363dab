namespace Kbl.Provisioning;

/// <summary>The provisioning grain's durable state: the policy's memory, the newest desired state, what was last observed.</summary>
[GenerateSerializer, Alias("kbl.ProvisioningState")]
public sealed class ProvisioningState
{
    [Id(0)] public PolicyState Policy { get; set; } = new();

    [Id(1)] public DesiredState? Desired { get; set; }

    [Id(2)] public ObservedState? Observed { get; set; }

    [Id(3)] public List<Decision> Decisions { get; set; } = [];

    /// <summary>Each colony's last report (rates are zeroed once it goes stale: a quiet colony still holds its bytes).</summary>
    [Id(4)] public Dictionary<string, ColonyDemand> Demand { get; set; } = [];

    /// <summary>Subtrees that have been moved onto their dedicated group.</summary>
    [Id(5)] public HashSet<string> MovedSubtrees { get; set; } = [];

    /// <summary>Node groups that exist without a colony: the groups silos were started in by hand (or by a deployment).</summary>
    [Id(6)] public HashSet<string> Standing { get; set; } = [];

    /// <summary>Colonies deleted lately, so a report of theirs still on its way does not bring their demand back.</summary>
    [Id(7)] public Dictionary<string, ForgottenColony> Forgotten { get; set; } = [];
}
