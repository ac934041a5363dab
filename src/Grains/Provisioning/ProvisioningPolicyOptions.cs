namespace Kbl.Provisioning;

/// <summary>
/// Section <c>Kbl:Provisioning</c>: the thresholds the provisioning policy turns demand into node groups with.
/// A node's capacity is <see cref="OpsPerNode"/>, <see cref="BytesPerNode"/> and <see cref="KblsPerNode"/>; a group
/// is sized so that its demand uses <see cref="TargetUtilisation"/> of it.
/// </summary>
public sealed class ProvisioningPolicyOptions
{
    /// <summary>How often the policy runs (one feedback period: scale-up happens within it).</summary>
    public TimeSpan Period { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a group's need must stay below its size before it shrinks (to the highest need seen meanwhile).</summary>
    public TimeSpan ScaleDownCoolDown { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Operations per second one node serves at full use.</summary>
    public double OpsPerNode { get; set; } = 5_000;

    /// <summary>Record bytes one node holds at full use.</summary>
    public long BytesPerNode { get; set; } = 50L * 1024 * 1024 * 1024;

    /// <summary>KBLs (tree nodes) one node hosts at most.</summary>
    public int KblsPerNode { get; set; } = 2_000;

    /// <summary>The share of a node's capacity the policy plans to use; the rest is headroom for bursts.</summary>
    public double TargetUtilisation { get; set; } = 0.7;

    /// <summary>
    /// A group grows only once its use would exceed <see cref="TargetUtilisation"/> plus this (as HPA's tolerance),
    /// and then to its need at the target; small rises are absorbed by the headroom instead of buying a node.
    /// </summary>
    public double ScaleUpTolerance { get; set; } = 0.1;

    /// <summary>
    /// At this use of its nodes a group is saturated: the operations it reports are what it could serve, not what
    /// was asked of it, so it doubles (within the quota) rather than growing to the measured need.
    /// </summary>
    public double SaturationUtilisation { get; set; } = 0.9;

    /// <summary>
    /// The most nodes a group's load alone (operations, bytes, KBLs, saturation) asks for; floors and minimums may
    /// ask for more. Unset: no limit but the quota — except with the local provider, whose silos share one machine's
    /// cores (a silo's thread pool already spans them all, so a second process on them adds no capacity): there it
    /// is 1 unless set (<c>KblSettings.Load</c>).
    /// </summary>
    public int? MaxNodesForLoad { get; set; }

    /// <summary>The least nodes of any group (the redundancy floor a colony reports can raise it).</summary>
    public int MinNodes { get; set; } = 1;

    /// <summary>
    /// A group's own least nodes, in place of <see cref="MinNodes"/> (<c>Kbl:Provisioning:GroupMinNodes:cold=0</c>):
    /// 0 lets a group whose colonies all hibernate go to zero nodes; the first request that wakes one of its leaves
    /// brings a node back.
    /// </summary>
    public Dictionary<string, int> GroupMinNodes { get; set; } = [];

    /// <summary>The least nodes of <paramref name="group"/>.</summary>
    public int MinNodesOf(string group) => GroupMinNodes.TryGetValue(group, out var min) ? min : MinNodes;

    /// <summary>Quota: nodes per group (EKS managed node groups allow up to 450 per group by default).</summary>
    public int MaxNodesPerGroup { get; set; } = 10;

    /// <summary>Quota: node groups per cluster (EKS: 30 managed node groups per cluster by default).</summary>
    public int MaxNodeGroups { get; set; } = 30;

    /// <summary>
    /// When a group needs more than <see cref="MaxNodesPerGroup"/>, a subtree carrying at least this share of the
    /// group's operations gets a node group of its own (while <see cref="MaxNodeGroups"/> allows). 0 turns that off.
    /// </summary>
    public double HotSubtreeShare { get; set; } = 0.2;

    /// <summary>
    /// Hysteresis between giving a hot subtree its own group and taking it back: it returns only once its old group,
    /// with it back, would fit the quota at this much below <see cref="TargetUtilisation"/> (0.2: at 80% of it), so a
    /// load hovering at the quota does not create and delete a node group every cool-down.
    /// </summary>
    public double HotSubtreeReleaseHeadroom { get; set; } = 0.2;

    public string InstanceType { get; set; } = "m6i.large";

    /// <summary>Zones every group spans; empty: all zones of the cluster's subnets.</summary>
    public string[] Zones { get; set; } = [];

    /// <summary>Labels on every group's nodes (besides <c>kbl.io/node-group</c>).</summary>
    public Dictionary<string, string> Labels { get; set; } = [];

    /// <summary>Taints on every group's nodes, as <c>key=value:NO_SCHEDULE</c> (or NO_EXECUTE, PREFER_NO_SCHEDULE).</summary>
    public string[] Taints { get; set; } = [];
}
