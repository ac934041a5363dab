namespace Kbl.Provisioning;

/// <summary>What a Provisioner found (and left) after reconciling towards <see cref="Generation"/>.</summary>
[GenerateSerializer, Immutable, Alias("kbl.ObservedState")]
public sealed record ObservedState(
    [property: Id(0)] long Generation,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] string Provider,
    [property: Id(3)] IReadOnlyList<ObservedGroup> Groups,
    [property: Id(4)] string? Error)
{
    /// <summary>Converged: every group of <paramref name="desired"/> is there, at its desired size, and nothing else is.</summary>
    public bool Matches(DesiredState desired) =>
        Generation == desired.Generation && Error is null &&
        desired.Groups.Count == Groups.Count &&
        desired.Groups.All(d => Groups.FirstOrDefault(g => g.Name == d.Name) is { } o && o.Ready == d.Desired && o.Desired == d.Desired);
}

/// <summary>
/// One real node group: its provider status (EKS: CREATING, ACTIVE, UPDATING, DELETING, CREATE_FAILED, DEGRADED…;
/// local: ACTIVE), the size it is set to, the nodes that are up, and anything its provider reports wrong with it.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ObservedGroup")]
public sealed record ObservedGroup(
    [property: Id(0)] string Name,
    [property: Id(1)] string Status,
    [property: Id(2)] int Desired,
    [property: Id(3)] int Ready,
    [property: Id(4)] IReadOnlyList<string> Issues);
