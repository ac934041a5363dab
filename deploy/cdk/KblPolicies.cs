using Amazon.CDK.AWS.IAM;

namespace Kbl.Cdk;

/// <summary>
/// The IAM statements of the silos' and the Provisioner's roles, built from the stack's resources' ARNs. The actions are
/// exactly what Kbl's code calls (the tests compare them with the code, as they do for k8s/iam's documents), and the
/// Provisioner's keep the <c>kbl.io/managed-by</c> rule of the code: create and tag only with the tag, change and delete
/// only what carries it, terminate instances only in the cluster's own Auto Scaling groups.
/// </summary>
public static class KblPolicies
{
    /// <summary>What Kbl's DynamoDB grain storage calls (src/Grains/Storage/DynamoDb*.cs), CreateTable aside: the stack makes the table.</summary>
    public static readonly IReadOnlyList<string> GrainStateActions =
        ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"];

    /// <summary>What the S3 cold tier calls on its bucket (listing a leaf's snapshots to delete them).</summary>
    public static readonly IReadOnlyList<string> ColdTierBucketActions = ["s3:ListBucket"];

    /// <summary>What the S3 cold tier calls on its objects (src/Grains/ColdTier/S3ColdTier.cs: read, write in parts, delete).</summary>
    public static readonly IReadOnlyList<string> ColdTierObjectActions = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"];

    /// <summary>
    /// The silos' statements: their table, sending desired states to the deployment queue (checked at start:
    /// GetQueueAttributes), and the cold tier's bucket (hibernated shards).
    /// </summary>
    public static PolicyStatement[] Silo(string tableArn, string queueArn, string bucketArn) =>
    [
        Allow("KblGrainStateTable", [.. GrainStateActions], [tableArn]),
        Allow("KblDeploymentQueue", ["sqs:SendMessage", "sqs:GetQueueAttributes"], [queueArn]),
        Allow("KblColdTierBucket", [.. ColdTierBucketActions], [bucketArn]),
        Allow("KblColdTierObjects", [.. ColdTierObjectActions], [$"{bucketArn}/*"]),
    ];

    /// <summary>The Provisioner's statements for cluster <paramref name="clusterName"/>.</summary>
    public static PolicyStatement[] Provisioner(string partition, string region, string account, string clusterName, string nodeRoleArn, string queueArn)
    {
        var cluster = $"arn:{partition}:eks:{region}:{account}:cluster/{clusterName}";
        var nodeGroups = $"arn:{partition}:eks:{region}:{account}:nodegroup/{clusterName}/*/*";
        var serviceRole = $"arn:{partition}:iam::{account}:role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup";
        var requested = Equal("aws:RequestTag/kbl.io/managed-by", "kbl");
        return
        [
            Allow("KblReadCluster", ["eks:DescribeCluster", "eks:ListNodegroups"], [cluster]),
            Allow("KblCreateTaggedNodeGroups", ["eks:CreateNodegroup"], [cluster], requested),
            Allow("KblTagOnCreate", ["eks:TagResource"], [nodeGroups], requested),
            Allow("KblReadNodeGroups", ["eks:DescribeNodegroup", "eks:DescribeUpdate"], [nodeGroups]),
            Allow("KblChangeOwnNodeGroups", ["eks:UpdateNodegroupConfig", "eks:DeleteNodegroup"], [nodeGroups], Equal("aws:ResourceTag/kbl.io/managed-by", "kbl")),
            Allow("KblZonesAndSubnets", ["ec2:DescribeSubnets", "ec2:DescribeAvailabilityZones", "ec2:DescribeRouteTables"], ["*"]),
            Allow("KblReadAutoScalingGroups", ["autoscaling:DescribeAutoScalingGroups"], ["*"]),
            Allow("KblTerminateChosenNodes", ["autoscaling:TerminateInstanceInAutoScalingGroup"], ["*"], Equal($"aws:ResourceTag/k8s.io/cluster-autoscaler/{clusterName}", "owned")),
            Allow("KblInspectNodeRole", ["iam:GetRole", "iam:ListAttachedRolePolicies"], [nodeRoleArn]),
            Allow("KblPassNodeRole", ["iam:PassRole"], [nodeRoleArn], Equal("iam:PassedToService", "eks.amazonaws.com")),
            Allow("KblNodegroupServiceRole", ["iam:GetRole"], [serviceRole]),
            Allow("KblCreateNodegroupServiceRole", ["iam:CreateServiceLinkedRole"], [serviceRole], Equal("iam:AWSServiceName", "eks-nodegroup.amazonaws.com")),
            Allow("KblDeploymentQueue", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [queueArn]),
        ];
    }

    private static Dictionary<string, object> Equal(string key, string value) =>
        new() { ["StringEquals"] = new Dictionary<string, object> { [key] = value } };

    private static PolicyStatement Allow(string sid, string[] actions, string[] resources, Dictionary<string, object>? conditions = null) =>
        new(new PolicyStatementProps { Sid = sid, Effect = Effect.ALLOW, Actions = actions, Resources = resources, Conditions = conditions });
}
