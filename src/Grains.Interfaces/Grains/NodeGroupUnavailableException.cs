namespace Kbl.Grains;

/// <summary>No silo of a KBL's node group is up, and the placement policy is to wait (and the wait ran out).</summary>
[GenerateSerializer, Alias("kbl.NodeGroupUnavailableException")]
public sealed class NodeGroupUnavailableException : Exception
{
    public NodeGroupUnavailableException()
    {
    }

    public NodeGroupUnavailableException(string nodeGroup)
        : base($"no silo of node group '{nodeGroup}' is up")
    {
        NodeGroup = nodeGroup;
    }

    public NodeGroupUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }

    [Id(0)] public string NodeGroup { get; init; } = "";
}
