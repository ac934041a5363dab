using Amazon;
using Amazon.EC2;
using Amazon.EC2.Model;
using Amazon.Runtime;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// The region's zones and the subnets node groups may use, from EC2 (DescribeAvailabilityZones, DescribeSubnets): the
/// subnets of <see cref="EksOptions.Subnets"/>, or else each zone's default subnet. Asked afresh for every group
/// created, which is rare, so a subnet added to the configuration or the VPC counts at once.
/// </summary>
public sealed class Ec2Zones : INodeGroupSubnets, IDisposable
{
    private readonly IAmazonEC2 _ec2;
    private readonly bool _ownsClient;
    private readonly IReadOnlyList<string> _subnetIds;

    /// <param name="ec2">The EC2 client (region and credentials set).</param>
    /// <param name="subnetIds">The subnets node groups may use; empty: the default subnet of each zone.</param>
    public Ec2Zones(IAmazonEC2 ec2, IReadOnlyList<string> subnetIds)
    {
        ArgumentNullException.ThrowIfNull(ec2);
        ArgumentNullException.ThrowIfNull(subnetIds);
        _ec2 = ec2;
        _subnetIds = subnetIds;
    }

    /// <summary>
    /// An EC2 client of its own for <see cref="EksOptions.Region"/> (or <see cref="EksOptions.Ec2ServiceUrl"/>) and
    /// <see cref="EksOptions.Subnets"/>. <paramref name="credentials"/> null: the SDK's default chain.
    /// </summary>
    public Ec2Zones(EksOptions options, AWSCredentials? credentials = null)
        : this(NewClient(options, credentials), options.Subnets)
    {
        _ownsClient = true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<string>> SubnetsFor(NodeGroupSpec group, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        var zones = await Zones(cancellationToken).ConfigureAwait(false);
        var subnets = await Subnets(cancellationToken).ConfigureAwait(false);
        var source = _subnetIds.Count > 0 ? $"the configured subnets ({string.Join(", ", _subnetIds)})" : "the default subnets";
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

    /// <summary>The usable subnets, ordered by zone and id, so a group's subnets come out the same every time.</summary>
    private async Task<List<Subnet>> Subnets(CancellationToken cancellationToken)
    {
        var subnets = new List<Subnet>();
        var request = _subnetIds.Count > 0
            ? new DescribeSubnetsRequest { SubnetIds = [.. _subnetIds] }
            : new DescribeSubnetsRequest { Filters = [new Filter("default-for-az", ["true"])] };
        do
        {
            var response = await _ec2.DescribeSubnetsAsync(request, cancellationToken).ConfigureAwait(false);
            subnets.AddRange(response.Subnets ?? []);
            request.NextToken = response.NextToken;
        }
        while (!string.IsNullOrEmpty(request.NextToken));

        return [.. subnets.OrderBy(s => s.AvailabilityZone, StringComparer.Ordinal).ThenBy(s => s.SubnetId, StringComparer.Ordinal)];
    }

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
