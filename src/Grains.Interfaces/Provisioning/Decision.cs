namespace Kbl.Provisioning;

/// <summary>One change the policy made and the feedback that caused it.</summary>
[GenerateSerializer, Immutable, Alias("kbl.Decision")]
public sealed record Decision(
    [property: Id(0)] long Generation,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string NodeGroup,
    [property: Id(3)] string Change,
    [property: Id(4)] string Reason);

/// <summary>What <c>GET /v1/cluster/plan</c> shows.</summary>
[GenerateSerializer, Immutable, Alias("kbl.ProvisioningPlan")]
public sealed record ProvisioningPlan(
    [property: Id(0)] string Provider,
    [property: Id(1)] DesiredState? Desired,
    [property: Id(2)] ObservedState? Observed,
    [property: Id(3)] IReadOnlyList<GroupDemand> Demand,
    [property: Id(4)] IReadOnlyList<Decision> Decisions);
