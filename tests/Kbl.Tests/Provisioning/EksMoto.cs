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

    /// <summary>Options for cluster <paramref name="cluster"/>: EKS through the proxy, EC2 straight to moto, short waits and backoffs.</summary>
    public EksOptions Options(string cluster) => new()
    {
        ClusterName = cluster,
        Region = Region,
        ServiceUrl = Proxy.Url,
        Ec2ServiceUrl = _moto.ServiceUrl,
        NodeRole = NodeRole,
        PollInterval = TimeSpan.FromMilliseconds(50),
        WaitTimeout = TimeSpan.FromSeconds(10),
        MaxAttempts = 5,
        Backoff = TimeSpan.FromMilliseconds(10),
    };

    public static EksClient Client(HttpClient http, EksOptions options) => new(http, options, Credentials);

    public AmazonEC2Client Ec2() => new(Credentials, new AmazonEC2Config { ServiceURL = _moto.ServiceUrl, AuthenticationRegion = Region });

    /// <summary>Creates the EKS cluster (moto wants one before node groups) with a raw signed call.</summary>
    public static async Task CreateCluster(EksClient client, string name)
    {
        var body = System.Text.Json.JsonSerializer.Serialize(new { name, roleArn = "arn:aws:iam::123456789012:role/kbl-cluster", resourcesVpcConfig = new { subnetIds = Array.Empty<string>() } });
        await client.Send(new EksCall("CreateCluster", HttpMethod.Post, client.Requests.Endpoint, "/clusters", body: body), CancellationToken.None);
    }
}

[CollectionDefinition(Name)]
public sealed class EksMotoCollection : ICollectionFixture<EksMoto>
{
    public const string Name = "eks-moto";
}
