namespace Kbl.NodeGroups.Eks;

/// <summary>Picks the subnets a new node group is placed in, from the zones its spec names.</summary>
public interface INodeGroupSubnets
{
    /// <summary>
    /// The subnets for <paramref name="group"/>: those in its <see cref="NodeGroupSpec.Zones"/>, or in every zone when it
    /// names none. Throws <see cref="SubnetSelectionException"/> when a zone has no subnet.
    /// </summary>
    Task<IReadOnlyList<string>> SubnetsFor(NodeGroupSpec group, CancellationToken cancellationToken);

    /// <summary>
    /// The zones (by name, e.g. <c>us-east-1a</c>) <paramref name="group"/> spans: its <see cref="NodeGroupSpec.Zones"/>
    /// (a zone id is turned into its name), or every zone the usable subnets cover when it names none.
    /// </summary>
    Task<IReadOnlyList<string>> ZonesFor(NodeGroupSpec group, CancellationToken cancellationToken);
}
