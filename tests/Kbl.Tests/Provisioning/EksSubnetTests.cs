using Amazon.EC2;
using Amazon.EC2.Model;
using Kbl.NodeGroups.Eks;
using Kbl.Provisioning;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// Without configured subnets, node groups go into the cluster's own subnets (DescribeCluster), private ones first:
/// moto's EC2 holds a VPC of the test's own, with a public and a private subnet in one zone and only a public one in
/// another, and EKS is reached through the fault proxy.
/// </summary>
[Collection(EksMotoCollection.Name)]
[Trait("Category", Category.AwsLocal)]
public sealed class EksSubnetTests : IDisposable
{
    private readonly EksMoto _aws;
    private readonly HttpClient _http = new();
    private readonly AmazonEC2Client _ec2;

    public EksSubnetTests(EksMoto aws)
    {
        _aws = aws;
        _aws.Proxy.Reset();
        _ec2 = aws.Ec2();
    }

    public void Dispose()
    {
        _http.Dispose();
        _ec2.Dispose();
    }

    [Fact]
    public async Task The_clusters_own_subnets_are_used_private_ones_first_in_each_zone()
    {
        var vpc = await Vpc("10.20.0.0/16");
        var client = await Cluster("kbl-vpc", [vpc.PublicA, vpc.PrivateA, vpc.PublicB]);
        _aws.Proxy.Fail("GET", "^/clusters/kbl-vpc$", 2, EksFault.Throttling);
        var zones = _aws.Zones(_ec2, client);

        var all = await zones.SubnetsFor(Spec("all"), CancellationToken.None);
        var a = await zones.SubnetsFor(Spec("a", "us-east-1a"), CancellationToken.None);
        var zoneNames = await zones.ZonesFor(Spec("all"), CancellationToken.None);
        var outside = await Assert.ThrowsAsync<SubnetSelectionException>(() => zones.SubnetsFor(Spec("c", "us-east-1c"), CancellationToken.None));

        // Zone a has a private subnet: only it. Zone b has none: its public one, rather than no node there at all.
        Assert.Equal([vpc.PrivateA, vpc.PublicB], all);
        Assert.Equal([vpc.PrivateA], a);
        Assert.Equal(["us-east-1a", "us-east-1b"], zoneNames);
        Assert.Contains("zone us-east-1c has no subnet among the cluster's subnets", outside.Message, StringComparison.Ordinal);
        Assert.Contains("private ones first", outside.Message, StringComparison.Ordinal);
        Assert.Equal(2, _aws.Proxy.Requests.Count(r => r.Path == "/clusters/kbl-vpc" && r.InjectedError == "ThrottlingException"));
        Assert.Contains(_aws.Proxy.Requests, r => r.Path == "/clusters/kbl-vpc" && r.Status == 200);
    }

    [Fact]
    public async Task Configured_subnets_win_over_the_clusters_and_are_taken_as_they_are()
    {
        var vpc = await Vpc("10.21.0.0/16");
        var client = await Cluster("kbl-configured", [vpc.PrivateA]);
        var zones = _aws.Zones(_ec2, client, [vpc.PublicA]);

        Assert.Equal([vpc.PublicA], await zones.SubnetsFor(Spec("g", "us-east-1a"), CancellationToken.None));
        Assert.DoesNotContain(_aws.Proxy.Requests, r => r.Path == "/clusters/kbl-configured" && r.Method == "GET");
    }

    [Fact]
    public async Task A_cluster_without_subnets_is_a_clear_error_naming_the_setting()
    {
        var client = await Cluster("kbl-bare", []);
        var zones = _aws.Zones(_ec2, client);

        var error = await Assert.ThrowsAsync<SubnetSelectionException>(() => zones.SubnetsFor(Spec("g"), CancellationToken.None));

        Assert.Contains("DescribeCluster reports none: set Kbl:Provisioning:Eks:Subnets", error.Message, StringComparison.Ordinal);
    }

    private async Task<EksClient> Cluster(string name, IReadOnlyList<string> subnets)
    {
        var client = EksMoto.Client(_http, _aws.Options(name));
        await EksMoto.CreateCluster(client, name, _aws.MotoUrl, subnets);
        return client;
    }

    /// <summary>
    /// A VPC whose main route table sends 0.0.0.0/0 to an internet gateway (so a subnet without a table of its own is
    /// public), with a private subnet in zone a that has a route table of its own without that route.
    /// </summary>
    private async Task<(string PublicA, string PrivateA, string PublicB)> Vpc(string cidr)
    {
        var vpc = (await _ec2.CreateVpcAsync(new CreateVpcRequest { CidrBlock = cidr })).Vpc.VpcId;
        var prefix = cidr[..cidr.LastIndexOf(".0.0/16", StringComparison.Ordinal)];
        async Task<string> Subnet(string block, string zone) =>
            (await _ec2.CreateSubnetAsync(new CreateSubnetRequest { VpcId = vpc, CidrBlock = $"{prefix}.{block}.0/24", AvailabilityZone = zone })).Subnet.SubnetId;
        var publicA = await Subnet("0", "us-east-1a");
        var privateA = await Subnet("1", "us-east-1a");
        var publicB = await Subnet("2", "us-east-1b");

        var gateway = (await _ec2.CreateInternetGatewayAsync(new CreateInternetGatewayRequest())).InternetGateway.InternetGatewayId;
        await _ec2.AttachInternetGatewayAsync(new AttachInternetGatewayRequest { InternetGatewayId = gateway, VpcId = vpc });
        var main = (await _ec2.DescribeRouteTablesAsync(new DescribeRouteTablesRequest
        {
            Filters = [new Filter("vpc-id", [vpc]), new Filter("association.main", ["true"])],
        })).RouteTables.Single().RouteTableId;
        await _ec2.CreateRouteAsync(new CreateRouteRequest { RouteTableId = main, DestinationCidrBlock = "0.0.0.0/0", GatewayId = gateway });
        var privateTable = (await _ec2.CreateRouteTableAsync(new CreateRouteTableRequest { VpcId = vpc })).RouteTable.RouteTableId;
        await _ec2.AssociateRouteTableAsync(new AssociateRouteTableRequest { RouteTableId = privateTable, SubnetId = privateA });
        return (publicA, privateA, publicB);
    }

    private static NodeGroupSpec Spec(string name, params string[] zones) =>
        new(name, 1, 3, 2, "m5.large", zones, new Dictionary<string, string>(), [], []);
}
