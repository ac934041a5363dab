namespace Kbl.Silo.Routing;

/// <summary>A request found no owner for its key within the hop limit (a tree changing shape without pause).</summary>
public sealed class KblRoutingException(string message) : Exception(message);
