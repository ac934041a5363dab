namespace Kbl.NodeGroups.Eks;

/// <summary>
/// Builds the EKS calls Kbl makes on one cluster (<see cref="EksCall"/>: method, URL, body), without sending them:
/// the client sends them, the dry-run provider prints them.
/// </summary>
public sealed class EksRequests
{
    public EksRequests(string clusterName, Uri endpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(clusterName);
        ArgumentNullException.ThrowIfNull(endpoint);
        ClusterName = clusterName;
        Endpoint = endpoint;
    }

    /// <summary>Requests on <see cref="EksOptions.ClusterName"/> at <see cref="EndpointOf"/>.</summary>
    public EksRequests(EksOptions options)
        : this(options?.ClusterName ?? throw new ArgumentNullException(nameof(options)), EndpointOf(options))
    {
    }

    public string ClusterName { get; }

    public Uri Endpoint { get; }

    /// <summary><see cref="EksOptions.ServiceUrl"/>, or AWS's endpoint of the region: <c>https://eks.{region}.amazonaws.com</c>.</summary>
    public static Uri EndpointOf(EksOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!string.IsNullOrEmpty(options.ServiceUrl))
        {
            return new Uri(options.ServiceUrl);
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(options.Region, nameof(options) + "." + nameof(options.Region));
        return new Uri($"https://eks.{options.Region}.amazonaws.com");
    }

    /// <summary><c>GET /clusters/{name}</c>: the cluster, its subnets among the rest.</summary>
    public EksCall DescribeCluster() => new("DescribeCluster", HttpMethod.Get, Endpoint, Cluster);

    /// <summary><c>POST /clusters/{name}/node-groups</c>.</summary>
    public EksCall CreateNodegroup(EksCreateNodegroupRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return new EksCall("CreateNodegroup", HttpMethod.Post, Endpoint, $"{Cluster}/node-groups", body: EksJson.Serialize(request));
    }

    /// <summary><c>GET /clusters/{name}/node-groups/{nodegroupName}</c>.</summary>
    public EksCall DescribeNodegroup(string nodegroupName) =>
        new("DescribeNodegroup", HttpMethod.Get, Endpoint, $"{Cluster}/node-groups/{Segment(nodegroupName)}");

    /// <summary><c>GET /clusters/{name}/node-groups?maxResults=&amp;nextToken=</c>.</summary>
    public EksCall ListNodegroups(string? nextToken = null, int? maxResults = null)
    {
        var query = new List<KeyValuePair<string, string>>();
        if (maxResults is { } max)
        {
            query.Add(new("maxResults", max.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        if (!string.IsNullOrEmpty(nextToken))
        {
            query.Add(new("nextToken", nextToken));
        }

        return new EksCall("ListNodegroups", HttpMethod.Get, Endpoint, $"{Cluster}/node-groups", query);
    }

    /// <summary><c>POST /clusters/{name}/node-groups/{nodegroupName}/update-config</c>.</summary>
    public EksCall UpdateNodegroupConfig(string nodegroupName, EksNodegroupConfigUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return new EksCall("UpdateNodegroupConfig", HttpMethod.Post, Endpoint, $"{Cluster}/node-groups/{Segment(nodegroupName)}/update-config", body: EksJson.Serialize(update));
    }

    /// <summary><c>DELETE /clusters/{name}/node-groups/{nodegroupName}</c>.</summary>
    public EksCall DeleteNodegroup(string nodegroupName) =>
        new("DeleteNodegroup", HttpMethod.Delete, Endpoint, $"{Cluster}/node-groups/{Segment(nodegroupName)}");

    /// <summary><c>GET /clusters/{name}/updates/{updateId}?nodegroupName=</c>.</summary>
    public EksCall DescribeUpdate(string nodegroupName, string updateId)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodegroupName);
        return new EksCall("DescribeUpdate", HttpMethod.Get, Endpoint, $"{Cluster}/updates/{Segment(updateId)}", [new("nodegroupName", nodegroupName)]);
    }

    private string Cluster => "/clusters/" + Uri.EscapeDataString(ClusterName);

    private static string Segment(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        return Uri.EscapeDataString(value);
    }
}
