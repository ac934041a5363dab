namespace Kbl.Silo.Gateway;

/// <summary>What a request does to a colony or the cluster, and so what a caller needs to be let through.</summary>
public enum GatewayRight
{
    /// <summary>Reads a colony: its records, scans, aggregates, tree and genome.</summary>
    Read,

    /// <summary>Changes a colony: records, genome, moves of its KBLs.</summary>
    Write,

    /// <summary>The cluster: <c>/v1/cluster/*</c>, the dashboard.</summary>
    Admin,
}
