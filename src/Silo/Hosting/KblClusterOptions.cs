namespace Kbl.Silo.Hosting;

/// <summary>Section <c>Kbl:Cluster</c>: how silos find each other.</summary>
public sealed class KblClusterOptions
{
    public const string Section = "Kbl:Cluster";

    /// <summary>
    /// <c>localhost</c> (the default: silo processes on one machine, membership kept by the primary silo) or
    /// <c>redis</c> (membership in Redis, <see cref="Redis"/>: any silo may die without taking the cluster down).
    /// </summary>
    public ClusterMode Mode { get; set; } = ClusterMode.Localhost;

    /// <summary>
    /// With <c>Mode=redis</c>: a StackExchange.Redis connection string (<c>redis:6379</c>; with AUTH and TLS
    /// <c>redis:6379,ssl=true,password=…</c>). It holds a password, so it is never logged.
    /// </summary>
    public string Redis { get; set; } = "";

    /// <summary>
    /// With <c>ssl=true</c> in <see cref="Redis"/>: a PEM file of the authority that issued Redis's certificate, when it
    /// is not one the system trusts (a self-managed Redis). Empty: the system's trust store.
    /// </summary>
    public string RedisCaPath { get; set; } = "";

    /// <summary>TLS between silos (<c>Kbl:Cluster:Tls:*</c>): off unless a certificate is named.</summary>
    public KblClusterTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// Run under Kubernetes (Orleans' Kubernetes hosting: silo name, address and cluster ids from the pod).
    /// Default: on when <c>POD_NAMESPACE</c> is set.
    /// </summary>
    public bool? Kubernetes { get; set; }

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Orleans client gateway port.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>The silo port of the cluster's primary silo; 0 (or this silo's own <see cref="SiloPort"/>) means this silo is the primary.</summary>
    public int PrimarySiloPort { get; set; }

    /// <summary>The silo port of the localhost cluster's primary: <see cref="PrimarySiloPort"/>, or this silo's own when that is 0.</summary>
    public int PrimaryPort => PrimarySiloPort == 0 ? SiloPort : PrimarySiloPort;

    /// <summary>This silo is the primary of a localhost cluster: <see cref="PrimarySiloPort"/> is 0 or its own port.</summary>
    public bool IsPrimary => PrimaryPort == SiloPort;

    /// <summary>With <c>Mode=redis</c> outside Kubernetes: the address other silos reach this one at.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// How long a silo waits for a probe answer before counting it missed (membership failure detection): Orleans
    /// adapts each probe's timeout and period to the answers it sees, between half and four times this. 1 s: a killed
    /// silo is declared dead about 1 s after the kill on loopback (0.7–1.1 s over 12 kills; 1.2–4.1 s at 2 s,
    /// docs/benchmarks.md); a silent (paused) one after about MaxProbeTimeout × MissedProbesLimit (8 s), Orleans'
    /// allowance for a silo whose connection carried messages recently.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Missed probes after which a silo is suspected; enough suspicions declare it dead.</summary>
    public int MissedProbesLimit { get; set; } = 2;

    public string ClusterId { get; set; } = "kbl";

    public string ServiceId { get; set; } = "kbl";
}
