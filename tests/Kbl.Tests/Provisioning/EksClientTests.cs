using System.Net;
using Amazon.Runtime;
using Kbl.NodeGroups.Eks;
using Kbl.Provisioning;

namespace Kbl.Tests.Provisioning;

[Collection(EksMotoCollection.Name)]
[Trait("Category", Category.AwsLocal)]
public sealed class EksClientTests : IDisposable
{
    private readonly EksMoto _aws;
    private readonly HttpClient _http = new();

    public EksClientTests(EksMoto aws)
    {
        _aws = aws;
        _aws.Proxy.Reset();
    }

    public void Dispose() => _http.Dispose();

    [Fact]
    public async Task Lists_every_page_of_node_groups()
    {
        var client = await NewCluster("kbl-pages");
        for (var i = 0; i < 5; i++)
        {
            await client.CreateNodegroup(Group($"page-{i}"), CancellationToken.None);
        }

        var names = await client.ListNodegroups(2, CancellationToken.None);

        Assert.Equal(["page-0", "page-1", "page-2", "page-3", "page-4"], names.Order());
        var lists = _aws.Proxy.Requests.Where(r => r.Method == "GET" && r.Path == "/clusters/kbl-pages/node-groups").ToList();
        Assert.Equal(3, lists.Count);
        Assert.Equal("maxResults=2", lists[0].PathAndQuery.Split('?')[1]);
        Assert.All(lists.Skip(1), r => Assert.Contains("nextToken=", r.PathAndQuery, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Retries_throttling_busy_and_server_errors_then_succeeds()
    {
        var client = await NewCluster("kbl-retry");
        await client.CreateNodegroup(Group("g"), CancellationToken.None);
        _aws.Proxy.Fail("GET", "/node-groups/g$", 2, EksFault.Throttling);
        _aws.Proxy.Fail("GET", "/node-groups/g$", 1, EksFault.ResourceInUse);
        _aws.Proxy.Fail("GET", "/node-groups/g$", 1, EksFault.Server);

        var group = await client.DescribeNodegroup("g", CancellationToken.None);

        Assert.Equal("ACTIVE", group?.Status);
        Assert.Equal([429, 429, 409, 500, 200], _aws.Proxy.Requests.Where(r => r.Path.EndsWith("/node-groups/g", StringComparison.Ordinal)).Select(r => r.Status));
    }

    [Fact]
    public async Task Gives_up_after_MaxAttempts_with_the_AWS_error()
    {
        var client = await NewCluster("kbl-giveup");
        _aws.Proxy.Fail("GET", "/clusters/kbl-giveup/node-groups$", 100, EksFault.Throttling);

        var error = await Assert.ThrowsAsync<EksApiException>(() => client.ListNodegroups(CancellationToken.None));

        Assert.Equal(HttpStatusCode.TooManyRequests, error.StatusCode);
        Assert.Equal("ThrottlingException", error.ErrorType);
        Assert.Equal("Rate exceeded", error.AwsMessage);
        Assert.Equal(_aws.Options("kbl-giveup").MaxAttempts, _aws.Proxy.Requests.Count(r => r.Path == "/clusters/kbl-giveup/node-groups"));
    }

    [Fact]
    public async Task Other_errors_surface_at_once_with_the_AWS_message()
    {
        var client = await NewCluster("kbl-errors");

        var missing = await Assert.ThrowsAsync<EksApiException>(() =>
            client.UpdateNodegroupConfig("nope", new EksNodegroupConfigUpdate(null, null, new EksScalingConfig(1, 2, 1), null), CancellationToken.None));
        var invalid = await Assert.ThrowsAsync<EksApiException>(() =>
            client.CreateNodegroup(Group("bad") with { NodeRole = "not-an-arn" }, CancellationToken.None));

        Assert.Equal((HttpStatusCode.NotFound, "ResourceNotFoundException"), (missing.StatusCode, missing.ErrorType));
        Assert.Equal("No node group found for name: nope.", missing.AwsMessage);
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidParameterException"), (invalid.StatusCode, invalid.ErrorType));
        Assert.Contains("not-an-arn", invalid.AwsMessage, StringComparison.Ordinal);
        Assert.Single(_aws.Proxy.Requests, r => r.Path.EndsWith("/nope/update-config", StringComparison.Ordinal));
        Assert.Single(_aws.Proxy.Requests, r => r.Method == "POST" && r.Nodegroup == "bad");
        Assert.Null(await client.DescribeNodegroup("nope", CancellationToken.None));
    }

    [Fact]
    public async Task A_create_of_an_existing_group_answers_ResourceInUse_without_retrying()
    {
        var client = await NewCluster("kbl-dup");
        await client.CreateNodegroup(Group("g"), CancellationToken.None);

        var error = await Assert.ThrowsAsync<EksApiException>(() => client.CreateNodegroup(Group("g"), CancellationToken.None));

        Assert.True(error.IsResourceInUse);
        Assert.Equal(2, _aws.Proxy.Requests.Count(r => r.Method == "POST" && r.Nodegroup == "g"));
        Assert.Equal(["g"], await client.ListNodegroups(CancellationToken.None));
    }

    [Fact]
    public async Task Sends_signed_json_with_the_exact_content_type_and_the_session_token()
    {
        var options = _aws.Options("kbl-wire");
        var client = new EksClient(_http, options, new SessionAWSCredentials("ASIAKBLTEST", "kbl-secret", "kbl-session-token"));
        await _aws.CreateCluster(client, "kbl-wire");

        var update = await client.CreateNodegroup(Group("g"), CancellationToken.None);

        var create = Assert.Single(_aws.Proxy.Requests, r => r.Method == "POST" && r.Nodegroup == "g");
        Assert.Equal("application/json", create.Headers["Content-Type"]);
        Assert.Equal("kbl-session-token", create.Headers["X-Amz-Security-Token"]);
        Assert.Matches(
            "^AWS4-HMAC-SHA256 Credential=ASIAKBLTEST/[0-9]{8}/us-east-1/eks/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$",
            create.Headers["Authorization"]);
        Assert.Equal("ACTIVE", update.Status);
    }

    [Fact]
    public async Task Without_credentials_given_it_signs_with_the_SDK_default_chain()
    {
        string[] variables = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];
        var saved = variables.ToDictionary(v => v, Environment.GetEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", "ASIAFROMENVIRONMENT");
            Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "from-environment");
            Environment.SetEnvironmentVariable("AWS_SESSION_TOKEN", "environment-token");
            await NewCluster("kbl-chain");
            var client = new EksClient(_http, _aws.Options("kbl-chain"));

            Assert.Empty(await client.ListNodegroups(CancellationToken.None));

            var list = Assert.Single(_aws.Proxy.Requests, r => r.Path == "/clusters/kbl-chain/node-groups");
            Assert.StartsWith("AWS4-HMAC-SHA256 Credential=ASIAFROMENVIRONMENT/", list.Headers["Authorization"], StringComparison.Ordinal);
            Assert.Equal("environment-token", list.Headers["X-Amz-Security-Token"]);
        }
        finally
        {
            foreach (var (name, value) in saved)
            {
                Environment.SetEnvironmentVariable(name, value);
            }
        }
    }

    [Fact]
    public async Task Zones_pick_their_default_subnets_and_name_the_zone_that_has_none()
    {
        using var ec2 = _aws.Ec2();
        var subnets = (await ec2.DescribeSubnetsAsync(new Amazon.EC2.Model.DescribeSubnetsRequest())).Subnets
            .Where(s => s.DefaultForAz == true).ToDictionary(s => s.AvailabilityZone, s => s.SubnetId);
        var zoneIdOfC = (await ec2.DescribeAvailabilityZonesAsync(new Amazon.EC2.Model.DescribeAvailabilityZonesRequest())).AvailabilityZones.Single(z => z.ZoneName == "us-east-1c").ZoneId;
        var client = await NewCluster("kbl-zones-of"); // in the default VPC's subnets, one per zone
        var defaults = _aws.Zones(ec2, client);
        var configured = _aws.Zones(ec2, client, [subnets["us-east-1a"], subnets["us-east-1b"]]);

        var two = await defaults.SubnetsFor(Spec("two", "us-east-1b", zoneIdOfC), CancellationToken.None);
        var all = await configured.SubnetsFor(Spec("all"), CancellationToken.None);
        var uncovered = await Assert.ThrowsAsync<SubnetSelectionException>(() => configured.SubnetsFor(Spec("c", "us-east-1c"), CancellationToken.None));
        var unknown = await Assert.ThrowsAsync<SubnetSelectionException>(() => defaults.SubnetsFor(Spec("z", "us-east-1z"), CancellationToken.None));

        Assert.Equal([subnets["us-east-1b"], subnets["us-east-1c"]], two);
        Assert.Equal([subnets["us-east-1a"], subnets["us-east-1b"]], all);
        Assert.Contains("zone us-east-1c has no subnet", uncovered.Message, StringComparison.Ordinal);
        Assert.Contains("zone us-east-1z is not a zone of the region", unknown.Message, StringComparison.Ordinal);
    }

    private async Task<EksClient> NewCluster(string name)
    {
        var client = EksMoto.Client(_http, _aws.Options(name));
        await _aws.CreateCluster(client, name);
        return client;
    }

    private static EksCreateNodegroupRequest Group(string name) => new(
        name, new EksScalingConfig(1, 3, 2), ["subnet-1"], ["m5.large"], EksMoto.NodeRole, null, null, null, ClientRequestToken: null);

    private static NodeGroupSpec Spec(string name, params string[] zones) =>
        new(name, 1, 3, 2, "m5.large", zones, new Dictionary<string, string>(), [], []);
}
