namespace Kbl.NodeGroups;

/// <summary>
/// Section <c>Kbl:Provisioning</c>, the parts that say who acts on desired states and how they travel (the policy's
/// thresholds are ProvisioningPolicyOptions (Kbl.Grains) in the same section).
/// </summary>
public sealed class ProvisioningOptions
{
    public const string Section = "Kbl:Provisioning";

    /// <summary><c>local</c> (silo processes on this machine, the default), <c>eks</c>, <c>dry-run</c> or <c>off</c> (plan only, nothing published).</summary>
    public ProviderKind Provider { get; set; } = ProviderKind.Local;

    /// <summary><c>local</c> (a durable spool directory on this machine, the default) or <c>sqs</c>.</summary>
    public QueueKind Queue { get; set; } = QueueKind.Local;

    /// <summary>
    /// Whether this silo runs the reconciler itself (one per cluster). Unset: the silo decides by one rule
    /// (<c>KblSettings.Reconciles</c>): on for <c>local</c> and <c>dry-run</c> in the primary silo of a localhost
    /// cluster, off elsewhere; with <c>eks</c> the Provisioner runs as its own process (src/Provisioner).
    /// </summary>
    public bool? InProcess { get; set; }

    public SqsOptions Sqs { get; set; } = new();

    public EksOptions Eks { get; set; } = new();

    public KubernetesOptions Kubernetes { get; set; } = new();

    public LocalProviderOptions Local { get; set; } = new();

    /// <summary>
    /// The Provisioner process only: the Kbl gateway it reads the current plan from and reports observed states to
    /// (<c>http://kbl:8080</c>); <c>Kbl:Auth:Token</c> is its bearer token.
    /// </summary>
    public string ClusterUrl { get; set; } = "";

    /// <summary>How often a Provisioner reconciles even when no message came (drift is repaired within this).</summary>
    public TimeSpan ResyncInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The Provisioner process only: the port of its liveness endpoint (<c>GET /healthz</c>, <see cref="HealthEndpoint"/>);
    /// 0 (the default): none.
    /// </summary>
    public int HealthPort { get; set; }

    /// <summary>
    /// The Provisioner process only: how long its reconciler may go without progress (a turn of its loop, a poll of a wait)
    /// before <c>/healthz</c> fails and the liveness probe restarts it. Longer than one call with all its retries.
    /// </summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(30);
}

public sealed class SqsOptions
{
    public string QueueUrl { get; set; } = "";

    /// <summary>Empty: AWS's endpoint for <see cref="Region"/>; set it to talk to a local SQS (moto_server).</summary>
    public string ServiceUrl { get; set; } = "";

    public string Region { get; set; } = "us-east-1";
}

public sealed class EksOptions
{
    public string ClusterName { get; set; } = "";

    public string Region { get; set; } = "us-east-1";

    /// <summary>Empty: <c>https://eks.{Region}.amazonaws.com</c>.</summary>
    public string ServiceUrl { get; set; } = "";

    /// <summary>Empty: AWS's EC2 endpoint for <see cref="Region"/>.</summary>
    public string Ec2ServiceUrl { get; set; } = "";

    /// <summary>Empty: <c>https://autoscaling.{Region}.amazonaws.com</c> (the targeted scale-in terminates chosen nodes there).</summary>
    public string AutoScalingServiceUrl { get; set; } = "";

    /// <summary>The IAM role ARN the group's nodes run as.</summary>
    public string NodeRole { get; set; } = "";

    /// <summary>Subnet ids node groups may use; a group's zones pick among them. Empty: the cluster's own subnets (DescribeCluster), private ones first.</summary>
    public string[] Subnets { get; set; } = [];

    /// <summary>
    /// One EKS node group and one silo StatefulSet per zone for each node group of the plan (<c>NAME-ZONE</c>, e.g.
    /// <c>hot-us-east-1a</c>), so a silo's EBS volume, which lives in one zone, always finds a node of its own zone.
    /// False: one node group across the zones (for silos whose records do not live on a zonal volume).
    /// </summary>
    public bool ZonalNodeGroups { get; set; } = true;

    /// <summary>How often waiters poll (the AWS SDK waiters use 30 s).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a waiter waits for ACTIVE or deleted before the reconcile round gives up (and the next one resumes).</summary>
    public TimeSpan WaitTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Attempts per call on throttling (429), ResourceInUseException (409) and 5xx, with exponential backoff and jitter.</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The first backoff; each retry doubles it (capped at 30 s).</summary>
    public TimeSpan Backoff { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed class KubernetesOptions
{
    /// <summary>Keep a silo StatefulSet per node group (eks provider). Default: when running in a pod.</summary>
    public bool? Enabled { get; set; }

    public string Namespace { get; set; } = "kbl";

    /// <summary>The StatefulSet new groups' StatefulSets are copied from (its pod template, volumes and probes).</summary>
    public string TemplateStatefulSet { get; set; } = "kbl-silo";
}

public sealed class LocalProviderOptions
{
    /// <summary>The spool directory of the local queue. Empty: <c>{Kbl:DataPath}/provisioning/queue</c>.</summary>
    public string QueuePath { get; set; } = "";

    /// <summary>At most this many silo processes the local provider starts (a guard for one machine).</summary>
    public int MaxSilos { get; set; } = 8;
}
