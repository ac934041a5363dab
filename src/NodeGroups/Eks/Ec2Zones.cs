using Amazon;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// The region's zones and the subnets node groups may use, from EC2 (DescribeAvailabilityZones, DescribeSubnets,
/// DescribeRouteTables): the subnets of <see cref="EksOptions.Subnets"/> as configured, or else the cluster's own subnets
/// (DescribeCluster's <c>resourcesVpcConfig.subnetIds</c>), private ones first. Asked afresh for every group created, which
/// is rare, so a subnet added to the configuration, the cluster or the VPC counts at once.
/// </summary>
/// <remarks>
/// <para>A subnet is <b>public</b> when its route table (the one associated with it, else its VPC's main route table) sends
/// <c>0.0.0.0/0</c> or <c>::/0</c> to an internet gateway (<c>igw-…</c>), which is how AWS itself defines a public subnet;
/// every other subnet is <b>private</b> (a NAT gateway, a transit gateway or no default route at all).
/// <c>MapPublicIpOnLaunch</c> is not the test: a subnet can hand out public addresses without a route to the internet, and
/// the reverse.</para>
/// <para>Of the cluster's subnets, each zone contributes its private subnets; a zone with none contributes its public ones
/// (nodes there need <c>MapPublicIpOnLaunch</c>, or EKS reports the group's <c>Ec2SubnetInvalidConfiguration</c>). Configured
/// subnets are taken as they are: the operator chose them.</para>
/// </remarks>
public sealed class Ec2Zones : INodeGroupSubnets, IDisposable
{
    private readonly IAmazonEC2 _ec2;
    private readonly bool _ownsClient;
    private readonly IReadOnlyList<string> _subnetIds;
    private readonly Func<CancellationToken, Task<IReadOnlyList<string>>>? _clusterSubnets;

    /// <param name="ec2">The EC2 client (region and credentials set).</param>
    /// <param name="subnetIds">The subnets node groups may use; empty: the cluster's own, private ones first.</param>
    /// <param name="clusterSubnets">The cluster's subnets (<see cref="EksClient.DescribeCluster"/>); required when <paramref name="subnetIds"/> is empty.</param>
    public Ec2Zones(IAmazonEC2 ec2, IReadOnlyList<string> subnetIds, Func<CancellationToken, Task<IReadOnlyList<string>>>? clusterSubnets)
    {
        ArgumentNullException.ThrowIfNull(ec2);
        ArgumentNullException.ThrowIfNull(subnetIds);
        if (subnetIds.Count == 0 && clusterSubnets is null)
        {
            throw new ArgumentException("without configured subnets the cluster's own are used: give a way to read them", nameof(clusterSubnets));
        }

        _ec2 = ec2;
        _subnetIds = subnetIds;
        _clusterSubnets = clusterSubnets;
    }

    /// <summary>
    /// An EC2 client of its own for <see cref="EksOptions.Region"/> (or <see cref="EksOptions.Ec2ServiceUrl"/>) and
    /// <see cref="EksOptions.Subnets"/>, else the subnets of <paramref name="cluster"/>. <paramref name="credentials"/> null:
    /// the SDK's default chain.
    /// </summary>
    public Ec2Zones(EksOptions options, EksClient cluster, AWSCredentials? credentials = null)
        : this(NewClient(options, credentials), options.Subnets, ClusterSubnetsOf(cluster))
    {
        _ownsClient = true;
    }

    /// <summary>Reads a cluster's subnets with DescribeCluster (<c>resourcesVpcConfig.subnetIds</c>).</summary>
    public static Func<CancellationToken, Task<IReadOnlyList<string>>> ClusterSubnetsOf(EksClient cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return async cancellationToken =>
        {
            var described = await cluster.DescribeCluster(cancellationToken).ConfigureAwait(false);
            return described.ResourcesVpcConfig?.SubnetIds ?? [];
        };
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> SubnetsFor(NodeGroupSpec group, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        var zones = await Zones(cancellationToken).ConfigureAwait(false);
        var (subnets, source) = await Usable(cancellationToken).ConfigureAwait(false);
        if (group.Zones.Count == 0)
        {
            return subnets.Count > 0
                ? [.. subnets.Select(s => s.SubnetId)]
                : throw new SubnetSelectionException($"node group {group.Name}: no subnet to place it in among {source}");
        }

        var picked = new List<string>();
        var problems = new List<string>();
        foreach (var wanted in group.Zones)
        {
            var zone = zones.FirstOrDefault(z => z.ZoneName == wanted || z.ZoneId == wanted);
            if (zone is null)
            {
                problems.Add($"zone {wanted} is not a zone of the region (zones: {string.Join(", ", zones.Select(z => z.ZoneName))})");
                continue;
            }

            var inZone = subnets.Where(s => s.AvailabilityZone == zone.ZoneName).Select(s => s.SubnetId).ToList();
            if (inZone.Count == 0)
            {
                var covered = subnets.Select(s => s.AvailabilityZone).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
                problems.Add($"zone {wanted} has no subnet among {source}, which cover {string.Join(", ", covered)}");
            }

            picked.AddRange(inZone.Where(id => !picked.Contains(id)));
        }

        return problems.Count == 0
            ? picked
            : throw new SubnetSelectionException($"node group {group.Name}: {string.Join("; ", problems)}");
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> ZonesFor(NodeGroupSpec group, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Zones.Count == 0)
        {
            var (subnets, source) = await Usable(cancellationToken).ConfigureAwait(false);
            return subnets.Count > 0
                ? [.. subnets.Select(s => s.AvailabilityZone).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)]
                : throw new SubnetSelectionException($"node group {group.Name}: no subnet to place it in among {source}");
        }

        var zones = await Zones(cancellationToken).ConfigureAwait(false);
        var names = new List<string>();
        foreach (var wanted in group.Zones)
        {
            var zone = zones.FirstOrDefault(z => z.ZoneName == wanted || z.ZoneId == wanted)
                ?? throw new SubnetSelectionException($"node group {group.Name}: zone {wanted} is not a zone of the region (zones: {string.Join(", ", zones.Select(z => z.ZoneName))})");
            if (!names.Contains(zone.ZoneName))
            {
                names.Add(zone.ZoneName);
            }
        }

        return names;
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _ec2.Dispose();
        }
    }

    private async Task<List<AvailabilityZone>> Zones(CancellationToken cancellationToken)
    {
        var response = await _ec2.DescribeAvailabilityZonesAsync(new DescribeAvailabilityZonesRequest(), cancellationToken).ConfigureAwait(false);
        return response.AvailabilityZones ?? [];
    }

    /// <summary>The subnets groups may use, ordered by zone and id, so a group's subnets come out the same every time; and where they come from.</summary>
    private async Task<(List<Subnet> Subnets, string Source)> Usable(CancellationToken cancellationToken)
    {
        if (_subnetIds.Count > 0)
        {
            return (await Describe(_subnetIds, cancellationToken).ConfigureAwait(false), $"the configured subnets ({string.Join(", ", _subnetIds)})");
        }

        var ids = await _clusterSubnets!(cancellationToken).ConfigureAwait(false);
        if (ids.Count == 0)
        {
            return ([], "the cluster's subnets (DescribeCluster reports none: set Kbl:Provisioning:Eks:Subnets)");
        }

        var subnets = await Describe(ids, cancellationToken).ConfigureAwait(false);
        var isPublic = await PublicSubnets(subnets, cancellationToken).ConfigureAwait(false);
        var usable = subnets
            .GroupBy(s => s.AvailabilityZone, StringComparer.Ordinal)
            .SelectMany(zone => zone.Any(s => !isPublic.Contains(s.SubnetId)) ? zone.Where(s => !isPublic.Contains(s.SubnetId)) : zone)
            .ToList();
        return (Ordered(usable), $"the cluster's subnets ({string.Join(", ", ids)}), private ones first");
    }

    private async Task<List<Subnet>> Describe(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var subnets = new List<Subnet>();
        var request = new DescribeSubnetsRequest { SubnetIds = [.. ids] };
        do
        {
            var response = await _ec2.DescribeSubnetsAsync(request, cancellationToken).ConfigureAwait(false);
            subnets.AddRange(response.Subnets ?? []);
            request.NextToken = response.NextToken;
        }
        while (!string.IsNullOrEmpty(request.NextToken));

        return Ordered(subnets);
    }

    /// <summary>The ids of those of <paramref name="subnets"/> whose route table sends the default route to an internet gateway.</summary>
    private async Task<HashSet<string>> PublicSubnets(List<Subnet> subnets, CancellationToken cancellationToken)
    {
        var tables = new List<RouteTable>();
        var vpcs = subnets.Select(s => s.VpcId).Where(v => !string.IsNullOrEmpty(v)).Distinct(StringComparer.Ordinal).ToList();
        if (vpcs.Count > 0)
        {
            var request = new DescribeRouteTablesRequest { Filters = [new Filter("vpc-id", vpcs)] };
            do
            {
                var response = await _ec2.DescribeRouteTablesAsync(request, cancellationToken).ConfigureAwait(false);
                tables.AddRange(response.RouteTables ?? []);
                request.NextToken = response.NextToken;
            }
            while (!string.IsNullOrEmpty(request.NextToken));
        }

        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var subnet in subnets)
        {
            var table = tables.FirstOrDefault(t => (t.Associations ?? []).Any(a => a.SubnetId == subnet.SubnetId))
                ?? tables.FirstOrDefault(t => t.VpcId == subnet.VpcId && (t.Associations ?? []).Any(a => a.Main == true));
            if ((table?.Routes ?? []).Any(DefaultRouteToInternet))
            {
                result.Add(subnet.SubnetId);
            }
        }

        return result;
    }

    private static bool DefaultRouteToInternet(Route route) =>
        (route.DestinationCidrBlock == "0.0.0.0/0" || route.DestinationIpv6CidrBlock == "::/0") &&
        route.GatewayId?.StartsWith("igw-", StringComparison.Ordinal) == true;

    private static List<Subnet> Ordered(IEnumerable<Subnet> subnets) =>
        [.. subnets.OrderBy(s => s.AvailabilityZone, StringComparer.Ordinal).ThenBy(s => s.SubnetId, StringComparer.Ordinal)];

    private static AmazonEC2Client NewClient(EksOptions options, AWSCredentials? credentials)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AmazonEC2Config();
        if (string.IsNullOrEmpty(options.Ec2ServiceUrl))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }
        else
        {
            config.ServiceURL = options.Ec2ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }

        return credentials is null ? new AmazonEC2Client(config) : new AmazonEC2Client(credentials, config);
    }
}
