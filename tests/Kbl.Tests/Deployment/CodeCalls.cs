using System.Text.RegularExpressions;

namespace Kbl.Tests.Deployment;

/// <summary>
/// The AWS and Kubernetes API calls Kbl's code makes, read from its source, as IAM actions and RBAC grants: what every
/// policy must allow and nothing more. Shared by the IAM documents' tests (k8s/iam) and the CDK stack's tests, so both
/// check against the same code.
/// </summary>
public static partial class CodeCalls
{
    /// <summary>
    /// What EKS itself checks, with the caller's permissions, when CreateNodegroup runs: the tags on create
    /// (<c>eks:TagResource</c>), the node role it is passed and inspects, and the node-group service-linked role it reads
    /// and, in an account that never had a managed node group, creates.
    /// </summary>
    public static readonly IReadOnlyList<string> CreateNodegroupDependencies =
        ["eks:TagResource", "iam:PassRole", "iam:GetRole", "iam:ListAttachedRolePolicies", "iam:CreateServiceLinkedRole"];

    /// <summary>The service-linked role of EKS managed node groups (<c>iam:GetRole</c>, <c>iam:CreateServiceLinkedRole</c>).</summary>
    public const string NodegroupServiceLinkedRole = "role/aws-service-role/eks-nodegroup.amazonaws.com/AWSServiceRoleForAmazonEKSNodegroup";

    private static readonly Lazy<string> Root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Kbl.sln")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no repository root (Kbl.sln beside src/) above {AppContext.BaseDirectory}");
    });

    /// <summary>The repository's root (Kbl.sln beside src/).</summary>
    public static string RepoRoot => Root.Value;

    /// <summary>The EKS operations of the Provisioner's client (<c>new EksCall("DescribeNodegroup", …)</c> → <c>eks:DescribeNodegroup</c>).</summary>
    public static IReadOnlySet<string> Eks() => Matches("src/NodeGroups/Eks/EksRequests.cs", EksCall(), "eks");

    /// <summary>The EC2 calls of the subnet picker (<c>_ec2.DescribeSubnetsAsync</c> → <c>ec2:DescribeSubnets</c>).</summary>
    public static IReadOnlySet<string> Ec2() => Matches("src/NodeGroups/Eks/Ec2Zones.cs", Ec2Call(), "ec2");

    /// <summary>The EC2 Auto Scaling actions of the targeted scale-in (<c>Call("TerminateInstanceInAutoScalingGroup", …)</c>).</summary>
    public static IReadOnlySet<string> AutoScaling() => Matches("src/NodeGroups/Eks/AutoScalingClient.cs", QueryAction(), "autoscaling");

    /// <summary>The SQS calls of the deployment queue (<c>_client.SendMessageAsync</c> → <c>sqs:SendMessage</c>).</summary>
    public static IReadOnlySet<string> Sqs() => Matches("src/NodeGroups/Queue/SqsDeploymentQueue.cs", ClientCall(), "sqs");

    /// <summary>The DynamoDB calls of Kbl's grain storage provider (<c>_client.GetItemAsync</c> → <c>dynamodb:GetItem</c>).</summary>
    public static IReadOnlySet<string> DynamoDb() =>
        Directory.EnumerateFiles(Path.Combine(Root.Value, "src", "Persistence.DynamoDb"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => ClientCall().Matches(File.ReadAllText(f)).Select(m => $"dynamodb:{m.Groups["api"].Value}"))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The IAM actions of the S3 cold tier's calls (<c>_client.GetObjectAsync</c> → <c>s3:GetObject</c>; a listing needs
    /// <c>s3:ListBucket</c>, a batch delete <c>s3:DeleteObject</c>, the transfer utility's upload <c>s3:PutObject</c> for
    /// its single and multipart uploads and <c>s3:AbortMultipartUpload</c> for one that fails), with what each applies
    /// to: the bucket itself or its objects. No other file of src/ may call S3.
    /// </summary>
    public static IReadOnlyDictionary<string, string> S3()
    {
        var callers = Directory.EnumerateFiles(Path.Combine(Root.Value, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => S3Client().IsMatch(File.ReadAllText(f)))
            .Select(f => Path.GetRelativePath(Root.Value, f))
            .ToList();
        if (!callers.SequenceEqual(["src/Grains/ColdTier/S3ColdTier.cs"]))
        {
            throw new InvalidOperationException($"S3 is called from {string.Join(", ", callers)}: only the cold tier's S3ColdTier.cs is read for its actions");
        }

        var actions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match call in S3Call().Matches(File.ReadAllText(Path.Combine(Root.Value, callers[0]))))
        {
            foreach (var (action, on) in call.Groups["api"].Value switch
            {
                "GetObject" => [("s3:GetObject", "objects")],
                "ListObjectsV2" => [("s3:ListBucket", "bucket")],
                "DeleteObjects" => [("s3:DeleteObject", "objects")],
                "Upload" => new[] { ("s3:PutObject", "objects"), ("s3:AbortMultipartUpload", "objects") },
                var other => throw new InvalidOperationException($"the cold tier calls S3's {other}: say which IAM action it needs"),
            })
            {
                actions[action] = on;
            }
        }

        return actions;
    }

    /// <summary>Everything the Provisioner's IAM role must allow: its calls and what EKS checks on its CreateNodegroup (SQS receiving included).</summary>
    public static IReadOnlySet<string> Provisioner() =>
        Eks().Concat(Ec2()).Concat(AutoScaling()).Concat(CreateNodegroupDependencies).Concat(Sqs().Where(a => a != "sqs:SendMessage"))
            .ToHashSet(StringComparer.Ordinal);

    private static HashSet<string> Matches(string relative, Regex pattern, string service) =>
        pattern.Matches(File.ReadAllText(Path.Combine(Root.Value, relative))).Select(m => $"{service}:{m.Groups["api"].Value}").ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"new(?:\s+EksCall)?\(\s*""(?<api>[A-Z]\w+)""")]
    private static partial Regex EksCall();

    [GeneratedRegex(@"_ec2\.(?<api>\w+?)Async\(")]
    private static partial Regex Ec2Call();

    [GeneratedRegex(@"\bCall\(\s*""(?<api>[A-Z]\w+)""")]
    private static partial Regex QueryAction();

    [GeneratedRegex(@"_client\.(?<api>\w+?)Async\(")]
    private static partial Regex ClientCall();

    [GeneratedRegex(@"\b(?:IAmazonS3|AmazonS3Client|TransferUtility)\b")]
    private static partial Regex S3Client();

    [GeneratedRegex(@"_(?:client|transfer)\.(?<api>\w+?)Async\(")]
    private static partial Regex S3Call();
}
