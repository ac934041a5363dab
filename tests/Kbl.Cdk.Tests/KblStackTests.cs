using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Amazon.CDK.Assertions;
using Kbl.Tests.Deployment;

namespace Kbl.Cdk.Tests;

/// <summary>
/// The synthesized stack (deploy/cdk), checked with Amazon.CDK.Assertions and against the code and the manifests: every
/// resource the guide used to ask for by hand, IRSA trust naming the right service accounts, least-privilege policies equal
/// to what Kbl's code calls, stateful resources that outlive the stack, and outputs that are exactly what the kustomize
/// overlay reads. One synthesis for the class.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class KblStackTests(SynthesizedStack stack) : IClassFixture<SynthesizedStack>
{
    private const string Account = "111122223333";
    private const string Region = "us-east-1";

    [Fact]
    public void Every_part_of_the_base_infrastructure_is_in_the_stack()
    {
        var template = stack.Template;
        template.ResourceCountIs("AWS::EC2::VPC", 1);
        template.ResourceCountIs("Custom::AWSCDK-EKS-Cluster", 1);
        template.HasResourceProperties("Custom::AWSCDK-EKS-Cluster", Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object>
        {
            ["Config"] = Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object>
            {
                ["name"] = "kbl",
                ["accessConfig"] = Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object> { ["authenticationMode"] = "API" }),
            }),
        }));
        template.ResourceCountIs("Custom::AWSCDKOpenIdConnectProvider", 1);

        // The system node group (the Provisioner's nodeSelector names it); no silo node group: the Provisioner makes those.
        template.ResourceCountIs("AWS::EKS::Nodegroup", 1);
        template.HasResourceProperties("AWS::EKS::Nodegroup", Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object> { ["NodegroupName"] = "system" }));
        Assert.Contains("eks.amazonaws.com/nodegroup: system", File.ReadAllText(Path.Combine(CodeCalls.RepoRoot, "k8s/overlays/example/provisioner.yaml")), StringComparison.Ordinal);

        template.HasResourceProperties("AWS::EKS::Addon", Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object>
        {
            ["AddonName"] = "aws-ebs-csi-driver",
            ["ServiceAccountRoleArn"] = new Dictionary<string, object> { ["Fn::GetAtt"] = new[] { stack.Single("AWS::IAM::Role", "EbsCsiDriverRole").Id, "Arn" } },
        }));
        template.HasResourceProperties("AWS::DynamoDB::Table", Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object>
        {
            ["KeySchema"] = new object[]
            {
                new Dictionary<string, object> { ["AttributeName"] = "grain", ["KeyType"] = "HASH" },
                new Dictionary<string, object> { ["AttributeName"] = "item", ["KeyType"] = "RANGE" },
            },
            ["BillingMode"] = "PAY_PER_REQUEST",
        }));
        template.ResourceCountIs("AWS::SQS::Queue", 1);
        template.HasResourceProperties("AWS::S3::Bucket", Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object>
        {
            ["PublicAccessBlockConfiguration"] = new Dictionary<string, object>
            {
                ["BlockPublicAcls"] = true,
                ["BlockPublicPolicy"] = true,
                ["IgnorePublicAcls"] = true,
                ["RestrictPublicBuckets"] = true,
            },
        }));
        template.HasResourceProperties("AWS::ECR::Repository", Amazon.CDK.Assertions.Match.ObjectLike(new Dictionary<string, object> { ["RepositoryName"] = "kbl-silo" }));

        // The dedicated node role of Kbl's node groups: assumed by EC2, with the three node policies, nothing else.
        var nodeRole = stack.Single("AWS::IAM::Role", "SiloNodeRole").Resource["Properties"]!;
        Assert.Equal("ec2.amazonaws.com", (string?)nodeRole["AssumeRolePolicyDocument"]!["Statement"]![0]!["Principal"]!["Service"]);
        Assert.Equal(
            ["AmazonEC2ContainerRegistryReadOnly", "AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"],
            nodeRole["ManagedPolicyArns"]!.AsArray().Select(p => Last(p!.ToJsonString())).Order(StringComparer.Ordinal));
        Assert.Null(nodeRole["Policies"]);
    }

    [Fact]
    public void Redis_has_tls_and_auth_and_admits_the_nodes_of_every_managed_node_group()
    {
        var (_, redis) = stack.Single("AWS::ElastiCache::ReplicationGroup", "Redis");
        var properties = redis["Properties"]!;
        Assert.True((bool?)properties["TransitEncryptionEnabled"]);
        Assert.True((bool?)properties["AtRestEncryptionEnabled"]);
        var secret = stack.Single("AWS::SecretsManager::Secret", "RedisAuth").Id;
        var token = properties["AuthToken"]!.ToJsonString();
        Assert.Contains("{{resolve:secretsmanager:", token, StringComparison.Ordinal);
        Assert.Contains($"\"Ref\":\"{secret}\"", token, StringComparison.Ordinal);

        // Port 6379 from the EKS cluster security group, which EKS puts on the nodes of every managed node group,
        // including those the Provisioner creates after the stack.
        var group = Assert.Single(properties["SecurityGroupIds"]!.AsArray());
        var (_, securityGroup) = Assert.Single(stack.Of("AWS::EC2::SecurityGroup"), g => JsonNode.DeepEquals(group, new JsonObject { ["Fn::GetAtt"] = new JsonArray(g.Id, "GroupId") }));
        var ingress = Assert.Single(securityGroup["Properties"]!["SecurityGroupIngress"]!.AsArray())!;
        Assert.Equal((6379, 6379, "tcp"), ((int)ingress["FromPort"]!, (int)ingress["ToPort"]!, (string)ingress["IpProtocol"]!));
        Assert.Equal(new JsonArray(stack.Single("Custom::AWSCDK-EKS-Cluster", "Cluster").Id, "ClusterSecurityGroupId").ToJsonString(), ingress["SourceSecurityGroupId"]!["Fn::GetAtt"]!.ToJsonString());
    }

    [Theory]
    [InlineData("SiloRole", "kbl", "kbl-silo", "k8s/base/serviceaccount.yaml")]
    [InlineData("ProvisionerRole", "kbl", "kbl-provisioner", "k8s/base/provisioner/serviceaccount.yaml")]
    [InlineData("EbsCsiDriverRole", "kube-system", "ebs-csi-controller-sa", null)]
    public void Each_irsa_role_trusts_only_its_own_service_account(string role, string ns, string serviceAccount, string? manifest)
    {
        if (manifest is not null)
        {
            // The service account the manifests create is the one the role trusts.
            var yaml = File.ReadAllText(Path.Combine(CodeCalls.RepoRoot, manifest));
            Assert.Matches($"(?m)^  name: {serviceAccount}$", yaml);
            Assert.Matches($"(?m)^  namespace: {ns}$", yaml);
        }

        var trust = Assert.Single(stack.Single("AWS::IAM::Role", role).Resource["Properties"]!["AssumeRolePolicyDocument"]!["Statement"]!.AsArray())!;
        Assert.Equal("sts:AssumeRoleWithWebIdentity", (string?)trust["Action"]);
        Assert.Equal(stack.Single("Custom::AWSCDKOpenIdConnectProvider", "ClusterOpenIdConnectProvider").Id, (string?)trust["Principal"]!["Federated"]!["Ref"]);
        var conditions = trust["Condition"]!["StringEquals"]!["Fn::GetAtt"]!.AsArray();
        Assert.Equal("Value", (string?)conditions[1]);

        // The condition document (a CfnJson: its keys hold the cluster's issuer, known only at deploy time), written out.
        var issuer = new JsonObject { ["Fn::GetAtt"] = new JsonArray(stack.Single("Custom::AWSCDK-EKS-Cluster", "Cluster").Id, "OpenIdConnectIssuer") };
        var parts = stack.Resources[(string)conditions[0]!]!["Properties"]!["Value"]!["Fn::Join"]![1]!.AsArray();
        Assert.All(parts.OfType<JsonObject>(), part => Assert.True(JsonNode.DeepEquals(issuer, part), $"the trust names {part.ToJsonString()}, not the cluster's issuer"));
        var document = JsonNode.Parse(string.Concat(parts.Select(p => p is JsonObject ? "ISSUER" : (string)p!)))!.AsObject();
        Assert.Equal(
            new Dictionary<string, string> { ["ISSUER:aud"] = "sts.amazonaws.com", ["ISSUER:sub"] = $"system:serviceaccount:{ns}:{serviceAccount}" },
            document.ToDictionary(p => p.Key, p => (string)p.Value!));
    }

    [Fact]
    public void The_silos_policy_is_what_their_code_calls_on_the_stacks_table_queue_and_bucket()
    {
        var statements = Statements("SiloRole");
        var s3 = CodeCalls.S3();
        var needed = CodeCalls.DynamoDb().Where(a => a != "dynamodb:CreateTable").Append("sqs:SendMessage").Append("sqs:GetQueueAttributes").Concat(s3.Keys);
        Assert.Equal(needed.Order(StringComparer.Ordinal), statements.SelectMany(s => s.Actions).Order(StringComparer.Ordinal));
        Assert.Equal(GetAtt("AWS::DynamoDB::Table", "GrainState", "Arn"), Assert.Single(statements, s => s.Actions.All(a => a.StartsWith("dynamodb:", StringComparison.Ordinal))).Resources.Single());
        Assert.Equal(GetAtt("AWS::SQS::Queue", "Deployments", "Arn"), Assert.Single(statements, s => s.Actions.SequenceEqual(["sqs:SendMessage", "sqs:GetQueueAttributes"])).Resources.Single());

        // The cold tier: listing on the bucket, the rest on its objects, and only on the stack's bucket.
        var bucket = GetAtt("AWS::S3::Bucket", "ColdTier", "Arn");
        var objects = new JsonObject { ["Fn::Join"] = new JsonArray("", new JsonArray(JsonNode.Parse(bucket), "/*")) }.ToJsonString();
        foreach (var (on, resource) in new[] { ("bucket", bucket), ("objects", objects) })
        {
            var statement = Assert.Single(statements, s => s.Actions.All(a => a.StartsWith("s3:", StringComparison.Ordinal)) && s.Resources.Single() == resource);
            Assert.Equal(s3.Where(a => a.Value == on).Select(a => a.Key).Order(StringComparer.Ordinal), statement.Actions.Order(StringComparer.Ordinal));
        }

        Assert.DoesNotContain(Statements("ProvisionerRole"), s => s.Actions.Any(a => a.StartsWith("s3:", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_provisioners_policy_is_what_its_code_calls_and_equals_the_by_hand_document_with_the_stacks_arns()
    {
        var statements = Statements("ProvisionerRole");
        Assert.Equal(CodeCalls.Provisioner().Order(StringComparer.Ordinal), statements.SelectMany(s => s.Actions).Distinct().Order(StringComparer.Ordinal));

        // With the stack's ARNs written out for the example account, the policy is the by-hand document (k8s/iam), whose
        // resources and conditions ProvisionerManifestTests checks rule by rule: same statements, resources, conditions.
        var arns = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [GetAtt("AWS::IAM::Role", "SiloNodeRole", "Arn")] = $"arn:aws:iam::{Account}:role/kbl-node",
            [GetAtt("AWS::SQS::Queue", "Deployments", "Arn")] = $"arn:aws:sqs:{Region}:{Account}:kbl-deployments",
        };
        var byHand = JsonNode.Parse(File.ReadAllText(Path.Combine(CodeCalls.RepoRoot, "k8s/iam/provisioner-policy.json")))!["Statement"]!.AsArray()
            .Select(s => Canonical(s!.AsObject(), arns)).Order(StringComparer.Ordinal);
        var synthesized = stack.Single("AWS::IAM::Policy", "ProvisionerRoleDefaultPolicy").Resource["Properties"]!["PolicyDocument"]!["Statement"]!.AsArray()
            .Select(s => Canonical(s!.AsObject(), arns)).Order(StringComparer.Ordinal);
        Assert.Equal(byHand, synthesized);
    }

    [Fact]
    public void Stateful_resources_outlive_the_stack()
    {
        var (_, table) = stack.Single("AWS::DynamoDB::Table", "GrainState");
        Assert.Equal(("Retain", "Retain"), ((string?)table["DeletionPolicy"], (string?)table["UpdateReplacePolicy"]));
        Assert.True((bool?)table["Properties"]!["DeletionProtectionEnabled"]);
        Assert.True((bool?)table["Properties"]!["PointInTimeRecoverySpecification"]!["PointInTimeRecoveryEnabled"]);
        foreach (var (type, prefix) in new[] { ("AWS::S3::Bucket", "ColdTier"), ("AWS::ECR::Repository", "Images"), ("AWS::SecretsManager::Secret", "RedisAuth") })
        {
            Assert.Equal("Retain", (string?)stack.Single(type, prefix).Resource["DeletionPolicy"]);
        }

        Assert.Equal("Snapshot", (string?)stack.Single("AWS::ElastiCache::ReplicationGroup", "Redis").Resource["DeletionPolicy"]);
        Assert.True((bool?)stack.Single("AWS::S3::Bucket", "ColdTier").Resource["Properties"]!["VersioningConfiguration"]!["Status"]?.GetValue<string>().Equals("Enabled", StringComparison.Ordinal));
    }

    [Fact]
    public void The_outputs_are_what_the_overlay_reads_through_its_one_generated_file()
    {
        var outputs = stack.Json["Outputs"]!.AsObject().Select(o => o.Key).ToList();
        Assert.Equal(KblStack.OutputNames.Order(StringComparer.Ordinal), outputs.Order(StringComparer.Ordinal));

        // Every value the overlay's replacements copy is an output (or the image, repository and tag).
        var kustomization = File.ReadAllText(Path.Combine(CodeCalls.RepoRoot, "k8s/overlays/example/kustomization.yaml"));
        var read = ReplacementSource().Matches(kustomization).Select(m => m.Groups["key"].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("QueueUrl", read);
        Assert.Subset(outputs.Append("Image").ToHashSet(StringComparer.Ordinal), read);

        // The committed stack.env is the generator's own output for the values in it: the same keys, lines and header.
        var committed = File.ReadAllText(Path.Combine(CodeCalls.RepoRoot, "k8s/overlays/example/stack.env"));
        var values = committed.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        var cdkOutputs = new JsonObject { [KblStack.DefaultStackName] = new JsonObject([.. KblStack.OutputNames.Select(n => KeyValuePair.Create(n, (JsonNode?)values[n]))]) };
        var tag = values["Image"][(values["ImageRepository"].Length + 1)..];
        Assert.Equal(committed, OverlayValues.FromCdkOutputs(cdkOutputs.ToJsonString(), KblStack.DefaultStackName, tag));

        var missing = Assert.Throws<InvalidDataException>(() => OverlayValues.FromCdkOutputs("""{"Kbl":{"Region":"us-east-1"}}""", KblStack.DefaultStackName, tag));
        Assert.Contains("has no output ClusterName", missing.Message, StringComparison.Ordinal);
    }

    private List<Statement> Statements(string role)
    {
        var roleId = stack.Single("AWS::IAM::Role", role).Id;
        return [.. stack.Of("AWS::IAM::Policy")
            .Where(p => p.Resource["Properties"]!["Roles"]!.AsArray().Any(r => (string?)r!["Ref"] == roleId))
            .SelectMany(p => p.Resource["Properties"]!["PolicyDocument"]!["Statement"]!.AsArray())
            .Select(s => new Statement(Strings(s!["Action"]), [.. Strings(s["Resource"], raw: true)]))];
    }

    private string GetAtt(string type, string prefix, string attribute) =>
        new JsonObject { ["Fn::GetAtt"] = new JsonArray(stack.Single(type, prefix).Id, attribute) }.ToJsonString();

    /// <summary>A statement as text with its resources written out: Fn::Join of the pseudo parameters and the stack's own ARNs.</summary>
    private static string Canonical(JsonObject statement, Dictionary<string, string> arns)
    {
        var resources = Strings(statement["Resource"], raw: true)
            .Select(r => arns.TryGetValue(r, out var arn) ? arn : r.StartsWith('{') ? Written(JsonNode.Parse(r)!) : r)
            .Order(StringComparer.Ordinal);
        return new JsonObject
        {
            ["Sid"] = (string?)statement["Sid"],
            ["Action"] = new JsonArray([.. Strings(statement["Action"]).Order(StringComparer.Ordinal).Select(a => (JsonNode?)a)]),
            ["Resource"] = new JsonArray([.. resources.Select(r => (JsonNode?)r)]),
            ["Condition"] = statement["Condition"]?.DeepClone(),
        }.ToJsonString();
    }

    /// <summary>A resource expression written out for the example account and region (<c>Fn::Join</c> of literals and pseudo parameters).</summary>
    private static string Written(JsonNode node) => node switch
    {
        JsonValue value => (string)value!,
        JsonObject { Count: 1 } join when join["Fn::Join"] is JsonArray parts =>
            string.Join((string)parts[0]!, parts[1]!.AsArray().Select(p => Written(p!))),
        JsonObject { Count: 1 } reference when (string?)reference["Ref"] is { } name => name switch
        {
            "AWS::Partition" => "aws",
            "AWS::Region" => Region,
            "AWS::AccountId" => Account,
            _ => throw new InvalidDataException($"a resource refers to {name}"),
        },
        _ => throw new InvalidDataException($"a resource expression the test cannot write out: {node.ToJsonString()}"),
    };

    private static string[] Strings(JsonNode? node, bool raw = false) => node switch
    {
        JsonArray array => [.. array.Select(n => raw ? Raw(n!) : (string)n!)],
        JsonValue value => [(string)value!],
        JsonObject => [Raw(node)],
        _ => [],
    };

    private static string Raw(JsonNode node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : node.ToJsonString();

    private static string Last(string managedPolicyArn) => managedPolicyArn.TrimEnd('"', ']', '}').Split('/')[^1].Split(':')[^1];

    private sealed record Statement(string[] Actions, string[] Resources);

    [GeneratedRegex(@"fieldPath: data\.(?<key>\w+)")]
    private static partial Regex ReplacementSource();
}
