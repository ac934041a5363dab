namespace Kbl.Silo.Hosting;

/// <summary>Section <c>Kbl:Cluster</c>: how silo processes on one machine find each other (localhost clustering).</summary>
public sealed class KblClusterOptions
{
    public const string Section = "Kbl:Cluster";

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans client gateway port.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The silo port of the cluster's primary silo; 0 means this silo is the primary.</summary>
    public int PrimarySiloPort { get; set; }

    public string ClusterId { get; set; } = "kbl";

    public string ServiceId { get; set; } = "kbl";
}
