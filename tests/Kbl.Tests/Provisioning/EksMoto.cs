using Amazon.EC2;
using Amazon.Runtime;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Eks;

namespace Kbl.Tests.Provisioning;

/// <summary>moto with a <see cref="FaultProxy"/> in front of its EKS API, shared by the EKS test classes.</summary>
public sealed class EksMoto : IAsyncLifetime
{
    public const string Region = "us-east-1";

    public const string NodeRole = "arn:aws:iam::123456789012:role/kbl-nodes";

    private readonly MotoServer _moto = new();
    private FaultProxy? _proxy;

    public static AWSCredentials Credentials { get; } = new BasicAWSCredentials("kbl-test", "kbl-test-secret");

    public FaultProxy Proxy => _proxy ?? throw new InvalidOperationException("not started");

    public string MotoUrl => _moto.ServiceUrl;

    public async Task InitializeAsync()
    {
        await _moto.InitializeAsync();
        _proxy = new FaultProxy(_moto.ServiceUrl);
    }

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        await _moto.DisposeAsync();
    }

    /// <summary>
    /// Options for cluster <paramref name="cluster"/>: EKS and Auto Scaling through the proxy, EC2 straight to moto, short
    /// waits and backoffs; one node group across zones unless <paramref name="zonal"/>.
    /// </summary>
    public EksOptions Options(string cluster, bool zonal = false) => new()
    {
        ClusterName = cluster,
        Region = Region,
        ServiceUrl = Proxy.Url,
        Ec2ServiceUrl = _moto.ServiceUrl,
        AutoScalingServiceUrl = Proxy.Url,
        ZonalNodeGroups = zonal,
        NodeRole = NodeRole,
        PollInterval = TimeSpan.FromMilliseconds(50),
        WaitTimeout = TimeSpan.FromSeconds(10),
        MaxAttempts = 5,
        Backoff = TimeSpan.FromMilliseconds(10),
    };

    public static EksClient Client(HttpClient http, EksOptions options) => new(http, options, Credentials);

    public AmazonEC2Client Ec2() => new(Credentials, new AmazonEC2Config { ServiceURL = _moto.ServiceUrl, AuthenticationRegion = Region });

    /// <summary>Creates the EKS cluster in the default VPC's subnets, one per zone (see the static overload).</summary>
    public Task CreateCluster(EksClient client, string name) => CreateCluster(client, name, MotoUrl);

    /// <summary>
    /// Creates the EKS cluster (moto wants one before node groups) with a raw signed call, in <paramref name="subnetIds"/>
    /// (null: the default VPC's subnet of each zone, read from moto's EC2 at <paramref name="motoUrl"/>).
    /// </summary>
    public static async Task CreateCluster(EksClient client, string name, string motoUrl, IReadOnlyList<string>? subnetIds = null)
    {
        if (subnetIds is null)
        {
            using var ec2 = new AmazonEC2Client(Credentials, new AmazonEC2Config { ServiceURL = motoUrl, AuthenticationRegion = Region });
            var defaults = await ec2.DescribeSubnetsAsync(new Amazon.EC2.Model.DescribeSubnetsRequest { Filters = [new Amazon.EC2.Model.Filter("default-for-az", ["true"])] });
            subnetIds = [.. defaults.Subnets.Select(s => s.SubnetId)];
        }

        var body = System.Text.Json.JsonSerializer.Serialize(new { name, roleArn = "arn:aws:iam::123456789012:role/kbl-cluster", resourcesVpcConfig = new { subnetIds } });
        await client.Send(new EksCall("CreateCluster", HttpMethod.Post, client.Requests.Endpoint, "/clusters", body: body), CancellationToken.None);
    }

    /// <summary>Subnets from the cluster of <paramref name="client"/> (DescribeCluster), as the eks provider takes them.</summary>
    public Ec2Zones Zones(AmazonEC2Client ec2, EksClient client, IReadOnlyList<string>? configured = null) =>
        new(ec2, configured ?? [], Ec2Zones.ClusterSubnetsOf(client));
}

[CollectionDefinition(Name)]
public sealed class EksMotoCollection : ICollectionFixture<EksMoto>
{
    public const string Name = "eks-moto";
}
