namespace Kbl.Provisioning;

/// <summary>
/// What the provisioning grain wants the cluster's machines to be. Generations only grow; a Provisioner applies
/// the newest one it has seen and ignores older ones, so lost, repeated and reordered messages are harmless.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.DesiredState")]
public sealed record DesiredState(
    [property: Id(0)] long Generation,
    [property: Id(1)] DateTimeOffset At,
    [property: Id(2)] IReadOnlyList<NodeGroupSpec> Groups)
{
    public NodeGroupSpec? Group(string name) => Groups.FirstOrDefault(g => g.Name == name);
}
