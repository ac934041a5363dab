using Amazon.CDK;
using Amazon.CDK.AWS.DynamoDB;
using Amazon.CDK.AWS.EC2;
using Amazon.CDK.AWS.ECR;
using Amazon.CDK.AWS.EKS;
using Amazon.CDK.AWS.ElastiCache;
using Amazon.CDK.AWS.IAM;
using Amazon.CDK.AWS.S3;
using Amazon.CDK.AWS.SecretsManager;
using Amazon.CDK.AWS.SQS;
using Constructs;

namespace Kbl.Cdk;

/// <summary>
/// Everything a Kbl cluster needs on AWS besides the silos' own node groups (the Provisioner makes those, one per group and
/// zone): the VPC (or an existing one), the EKS cluster with its OIDC provider and the EBS CSI add-on (with its IRSA role),
/// the system node group (the Provisioner and add-ons), the node role of Kbl's node groups, the DynamoDB table, the SQS
/// deployment queue, the S3 cold-tier bucket, Redis (ElastiCache, TLS and AUTH) reachable from the cluster's nodes, the
/// ECR repository, and the IRSA roles of the silos and the Provisioner with policies built from those resources' ARNs.
/// Its outputs are what the kustomize overlay needs (<see cref="OverlayValues"/> writes them into its one generated file).
/// </summary>
/// <remarks>
/// Stateful resources outlive the stack: the table (deletion protection, point-in-time recovery), the bucket, the image
/// repository and the AUTH secret are retained, Redis leaves a final snapshot. Node groups are not defined here: a
/// CloudFormation update would reset the sizes the Provisioner sets (one owner per field).
/// </remarks>
public sealed class KblStack : Stack
{
    public const string DefaultStackName = "Kbl";

    /// <summary>The outputs, by name: the keys of the overlay's generated file (k8s/overlays/example/stack.env).</summary>
    public static readonly IReadOnlyList<string> OutputNames =
    [
        "Region", "ClusterName", "TableName", "QueueUrl", "ColdTierBucket", "RedisEndpoint", "RedisAuthSecretArn",
        "NodeRoleArn", "SiloRoleArn", "ProvisionerRoleArn", "ImageRepository", "NodeSubnets", "ClusterSecurityGroupId",
    ];

    private readonly Cluster _cluster;

    public KblStack(Construct scope, string id, KblStackSettings settings, IStackProps? props = null)
        : base(scope, id, props)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var vpc = settings.VpcId.Length > 0
            ? Vpc.FromLookup(this, "Vpc", new VpcLookupOptions { VpcId = settings.VpcId })
            : new Vpc(this, "Vpc", new VpcProps
            {
                MaxAzs = 3,
                NatGateways = 1,
                SubnetConfiguration =
                [
                    new SubnetConfiguration { Name = "public", SubnetType = SubnetType.PUBLIC, CidrMask = 24 },
                    new SubnetConfiguration { Name = "private", SubnetType = SubnetType.PRIVATE_WITH_EGRESS, CidrMask = 19 },
                ],
            });
        var privateSubnets = new SubnetSelection { SubnetType = SubnetType.PRIVATE_WITH_EGRESS };

        // The cluster's subnets are the private ones: the Provisioner places Kbl's node groups in the cluster's subnets
        // (DescribeCluster), so silo nodes never land in a public subnet.
        _cluster = new Cluster(this, "Cluster", new ClusterProps
        {
            ClusterName = settings.ClusterName,
            Version = KubernetesVersion.Of(settings.KubernetesVersion),
            Vpc = vpc,
            VpcSubnets = [privateSubnets],
            DefaultCapacity = 0,
            AuthenticationMode = AuthenticationMode.API,
        });
        var oidc = _cluster.OpenIdConnectProvider;

        _cluster.AddNodegroupCapacity("SystemNodes", new NodegroupOptions
        {
            NodegroupName = "system",
            InstanceTypes = [new Amazon.CDK.AWS.EC2.InstanceType(settings.SystemInstanceType)],
            MinSize = 1,
            DesiredSize = 2,
            MaxSize = 3,
            Subnets = privateSubnets,
            Labels = new Dictionary<string, string> { ["kbl.io/system"] = "true" },
        });

        // Volumes of the silos (gp3, encrypted): the EBS CSI driver, acting through its own IRSA role.
        var ebsCsi = IrsaRole("EbsCsiDriverRole", oidc, "kube-system", "ebs-csi-controller-sa", "EBS CSI driver: creates and attaches the silos' volumes");
        ebsCsi.AddManagedPolicy(ManagedPolicy.FromAwsManagedPolicyName("service-role/AmazonEBSCSIDriverPolicy"));
        _ = new CfnAddon(this, "EbsCsiDriver", new CfnAddonProps
        {
            AddonName = "aws-ebs-csi-driver",
            ClusterName = _cluster.ClusterName,
            ServiceAccountRoleArn = ebsCsi.RoleArn,
            ResolveConflicts = "OVERWRITE",
        });

        // The nodes of the node groups the Provisioner makes: a role of their own (not eksctl's, not the system group's).
        var nodeRole = new Role(this, "SiloNodeRole", new RoleProps
        {
            AssumedBy = new ServicePrincipal("ec2.amazonaws.com"),
            Description = "Nodes of Kbl's silo node groups (created by the Provisioner)",
            ManagedPolicies =
            [
                ManagedPolicy.FromAwsManagedPolicyName("AmazonEKSWorkerNodePolicy"),
                ManagedPolicy.FromAwsManagedPolicyName("AmazonEKS_CNI_Policy"),
                ManagedPolicy.FromAwsManagedPolicyName("AmazonEC2ContainerRegistryReadOnly"),
            ],
        });

        var table = new Table(this, "GrainState", new TableProps
        {
            PartitionKey = new Amazon.CDK.AWS.DynamoDB.Attribute { Name = "grain", Type = AttributeType.STRING },
            SortKey = new Amazon.CDK.AWS.DynamoDB.Attribute { Name = "item", Type = AttributeType.STRING },
            BillingMode = BillingMode.PAY_PER_REQUEST,
            PointInTimeRecovery = true,
            DeletionProtection = true,
            RemovalPolicy = RemovalPolicy.RETAIN,
        });

        var queue = new Queue(this, "Deployments", new QueueProps
        {
            Encryption = QueueEncryption.SQS_MANAGED,
            EnforceSSL = true,
            VisibilityTimeout = Duration.Minutes(2),
            RetentionPeriod = Duration.Days(4),
        });

        var coldTier = new Bucket(this, "ColdTier", new BucketProps
        {
            BlockPublicAccess = BlockPublicAccess.BLOCK_ALL,
            Encryption = BucketEncryption.S3_MANAGED,
            EnforceSSL = true,
            Versioned = true,
            RemovalPolicy = RemovalPolicy.RETAIN,
        });

        var images = new Repository(this, "Images", new RepositoryProps
        {
            RepositoryName = "kbl-silo",
            ImageScanOnPush = true,
            ImageTagMutability = TagMutability.IMMUTABLE,
            RemovalPolicy = RemovalPolicy.RETAIN,
        });

        var (redis, redisAuth) = Redis(vpc);

        var silo = IrsaRole("SiloRole", oidc, settings.Namespace, "kbl-silo", "Kbl silos: their DynamoDB table, sending to the deployment queue, the cold tier's bucket");
        foreach (var statement in KblPolicies.Silo(table.TableArn, queue.QueueArn, coldTier.BucketArn))
        {
            silo.AddToPolicy(statement);
        }

        var provisioner = IrsaRole("ProvisionerRole", oidc, settings.Namespace, "kbl-provisioner", "Kbl Provisioner: Kbl's node groups of this cluster and the deployment queue");
        foreach (var statement in KblPolicies.Provisioner(Partition, Region, Account, settings.ClusterName, nodeRole.RoleArn, queue.QueueArn))
        {
            provisioner.AddToPolicy(statement);
        }

        Output("Region", Region);
        Output("ClusterName", _cluster.ClusterName);
        Output("TableName", table.TableName);
        Output("QueueUrl", queue.QueueUrl);
        Output("ColdTierBucket", coldTier.BucketName);
        Output("RedisEndpoint", Fn.Join(":", [redis.AttrPrimaryEndPointAddress, redis.AttrPrimaryEndPointPort]));
        Output("RedisAuthSecretArn", redisAuth.SecretArn);
        Output("NodeRoleArn", nodeRole.RoleArn);
        Output("SiloRoleArn", silo.RoleArn);
        Output("ProvisionerRoleArn", provisioner.RoleArn);
        Output("ImageRepository", images.RepositoryUri);
        Output("NodeSubnets", Fn.Join(",", vpc.SelectSubnets(privateSubnets).SubnetIds));
        Output("ClusterSecurityGroupId", _cluster.ClusterSecurityGroupId);
    }

    /// <summary>
    /// ElastiCache for Redis OSS with TLS and AUTH (a generated token in Secrets Manager), two nodes across zones, in the
    /// private subnets; its security group admits port 6379 from the cluster security group, which EKS puts on the nodes
    /// of every managed node group, so the silos of node groups the Provisioner creates later reach it too.
    /// </summary>
    private (CfnReplicationGroup Redis, Secret Auth) Redis(IVpc vpc)
    {
        var auth = new Secret(this, "RedisAuth", new SecretProps
        {
            Description = "AUTH token of Kbl's Redis (membership)",
            GenerateSecretString = new SecretStringGenerator { ExcludePunctuation = true, PasswordLength = 64 },
            RemovalPolicy = RemovalPolicy.RETAIN,
        });
        var securityGroup = new SecurityGroup(this, "RedisSecurityGroup", new SecurityGroupProps
        {
            Vpc = vpc,
            Description = "Kbl Redis: port 6379 from the EKS cluster security group (every managed node group's nodes)",
            AllowAllOutbound = false,
        });
        securityGroup.AddIngressRule(Peer.SecurityGroupId(_cluster.ClusterSecurityGroupId), Port.Tcp(6379), "Kbl silos on any EKS managed node group");
        var subnets = new CfnSubnetGroup(this, "RedisSubnets", new CfnSubnetGroupProps
        {
            Description = "Kbl Redis: the private subnets",
            SubnetIds = vpc.SelectSubnets(new SubnetSelection { SubnetType = SubnetType.PRIVATE_WITH_EGRESS }).SubnetIds,
        });
        var redis = new CfnReplicationGroup(this, "Redis", new CfnReplicationGroupProps
        {
            ReplicationGroupDescription = "Kbl cluster membership",
            Engine = "redis",
            CacheNodeType = "cache.t4g.small",
            NumCacheClusters = 2,
            AutomaticFailoverEnabled = true,
            MultiAzEnabled = true,
            TransitEncryptionEnabled = true,
            AtRestEncryptionEnabled = true,
            AuthToken = auth.SecretValue.UnsafeUnwrap(),
            Port = 6379,
            CacheSubnetGroupName = subnets.Ref,
            SecurityGroupIds = [securityGroup.SecurityGroupId],
        });
        redis.ApplyRemovalPolicy(RemovalPolicy.SNAPSHOT);
        return (redis, auth);
    }

    /// <summary>
    /// A role only pods of <paramref name="serviceAccount"/> in <paramref name="ns"/> can assume (IRSA): web identity from the
    /// cluster's OIDC provider, audience <c>sts.amazonaws.com</c>, subject <c>system:serviceaccount:NS:NAME</c>.
    /// </summary>
    private Role IrsaRole(string id, IOpenIdConnectProvider oidc, string ns, string serviceAccount, string description)
    {
        var issuer = _cluster.ClusterOpenIdConnectIssuer;
        var conditions = new CfnJson(this, id + "Trust", new CfnJsonProps
        {
            Value = new Dictionary<string, object>
            {
                [$"{issuer}:aud"] = "sts.amazonaws.com",
                [$"{issuer}:sub"] = $"system:serviceaccount:{ns}:{serviceAccount}",
            },
        });
        return new Role(this, id, new RoleProps
        {
            AssumedBy = new OpenIdConnectPrincipal(oidc).WithConditions(new Dictionary<string, object> { ["StringEquals"] = conditions }),
            Description = description,
        });
    }

    private void Output(string name, string value) => _ = new CfnOutput(this, name, new CfnOutputProps { Value = value });
}
