using System.Text.Json.Serialization;

namespace Kbl.NodeGroups.Eks;

// The EKS API's JSON shapes that Kbl uses (botocore eks/2017-11-01 service-2.json), kept together in one file because
// they are one wire format: members are named and ordered as there, and members Kbl does not read are left out.

/// <summary>A managed node group as DescribeNodegroup, CreateNodegroup and DeleteNodegroup return it.</summary>
public sealed record EksNodegroup(
    string NodegroupName,
    string? NodegroupArn,
    string? ClusterName,
    string Status,
    EksScalingConfig? ScalingConfig,
    IReadOnlyList<string>? InstanceTypes,
    IReadOnlyList<string>? Subnets,
    string? NodeRole,
    IReadOnlyDictionary<string, string>? Labels,
    IReadOnlyList<EksTaint>? Taints,
    EksNodegroupHealth? Health,
    IReadOnlyDictionary<string, string>? Tags)
{
    /// <summary>What EKS made for the group: its Auto Scaling group (where the targeted scale-in terminates a chosen node).</summary>
    public EksNodegroupResources? Resources { get; init; }
}

/// <summary>The resources behind a node group (<c>resources</c>).</summary>
public sealed record EksNodegroupResources(IReadOnlyList<EksAutoScalingGroupName>? AutoScalingGroups);

/// <summary>One Auto Scaling group of a node group.</summary>
public sealed record EksAutoScalingGroupName(string? Name);

/// <summary>A cluster as DescribeCluster returns it, the parts Kbl reads.</summary>
public sealed record EksCluster(string Name, string? Arn, string? Status, EksVpcConfig? ResourcesVpcConfig);

/// <summary>The cluster's network (<c>resourcesVpcConfig</c>): the subnets it was created with, its VPC and security group.</summary>
public sealed record EksVpcConfig(IReadOnlyList<string>? SubnetIds, string? VpcId, string? ClusterSecurityGroupId);

/// <summary>A node group's size bounds and target (<c>scalingConfig</c>).</summary>
public sealed record EksScalingConfig(int MinSize, int MaxSize, int DesiredSize);

/// <summary>A Kubernetes taint on a node group's nodes; <see cref="Effect"/> is <c>NO_SCHEDULE</c>, <c>NO_EXECUTE</c> or <c>PREFER_NO_SCHEDULE</c>.</summary>
public sealed record EksTaint(string Key, string? Value, string Effect);

/// <summary>What EKS reports wrong with a node group (<c>health</c>).</summary>
public sealed record EksNodegroupHealth(IReadOnlyList<EksIssue>? Issues);

/// <summary>One health issue: a <c>NodegroupIssueCode</c> such as <c>Ec2SubnetNotFound</c>, and its message.</summary>
public sealed record EksIssue(string? Code, string? Message, IReadOnlyList<string>? ResourceIds);

/// <summary>One page of ListNodegroups; <see cref="NextToken"/> is null on the last page.</summary>
public sealed record EksNodegroupPage(IReadOnlyList<string>? Nodegroups, string? NextToken);

/// <summary>An update (UpdateNodegroupConfig, DescribeUpdate): <see cref="Status"/> is <c>InProgress</c>, <c>Failed</c>, <c>Cancelled</c> or <c>Successful</c>.</summary>
public sealed record EksUpdate(string Id, string Status, string? Type, IReadOnlyList<EksErrorDetail>? Errors);

/// <summary>Why an update failed.</summary>
public sealed record EksErrorDetail(string? ErrorCode, string? ErrorMessage, IReadOnlyList<string>? ResourceIds);

/// <summary>The body of CreateNodegroup (the cluster goes in the path).</summary>
public sealed record EksCreateNodegroupRequest(
    string NodegroupName,
    EksScalingConfig ScalingConfig,
    IReadOnlyList<string> Subnets,
    IReadOnlyList<string>? InstanceTypes,
    string NodeRole,
    IReadOnlyDictionary<string, string>? Labels,
    IReadOnlyList<EksTaint>? Taints,
    IReadOnlyDictionary<string, string>? Tags,
    string? ClientRequestToken);

/// <summary>The body of UpdateNodegroupConfig: only the parts that change are set.</summary>
public sealed record EksNodegroupConfigUpdate(
    EksLabelsUpdate? Labels,
    EksTaintsUpdate? Taints,
    EksScalingConfig? ScalingConfig,
    string? ClientRequestToken)
{
    /// <summary>Nothing to change.</summary>
    [JsonIgnore]
    public bool IsEmpty => Labels is null && Taints is null && ScalingConfig is null;
}

/// <summary>Labels to set and to remove (<c>UpdateLabelsPayload</c>).</summary>
public sealed record EksLabelsUpdate(IReadOnlyDictionary<string, string>? AddOrUpdateLabels, IReadOnlyList<string>? RemoveLabels);

/// <summary>Taints to set and to remove (<c>UpdateTaintsPayload</c>); a taint is known by its key and effect.</summary>
public sealed record EksTaintsUpdate(IReadOnlyList<EksTaint>? AddOrUpdateTaints, IReadOnlyList<EksTaint>? RemoveTaints);

/// <summary>The envelope of DescribeNodegroup, CreateNodegroup and DeleteNodegroup responses.</summary>
internal sealed record EksNodegroupResponse(EksNodegroup? Nodegroup);

/// <summary>The envelope of DescribeCluster responses.</summary>
internal sealed record EksClusterResponse(EksCluster? Cluster);

/// <summary>The envelope of UpdateNodegroupConfig and DescribeUpdate responses.</summary>
internal sealed record EksUpdateResponse(EksUpdate? Update);
