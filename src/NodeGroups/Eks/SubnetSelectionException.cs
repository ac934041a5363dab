namespace Kbl.NodeGroups.Eks;

/// <summary>A node group's zones cannot be served: a zone that is not in the region, or one without a usable subnet.</summary>
public sealed class SubnetSelectionException : Exception
{
    public SubnetSelectionException()
    {
    }

    public SubnetSelectionException(string message)
        : base(message)
    {
    }

    public SubnetSelectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
