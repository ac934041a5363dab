using Amazon.EC2;
using Amazon.EC2.Model;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Eks;
using Kbl.NodeGroups.Providers;
using Kbl.Provisioning;

namespace Kbl.Tests.Provisioning;

/// <summary>The eks provider against moto's EKS and EC2, through the fault-injecting proxy.</summary>
[Collection(EksMotoCollection.Name)]
[Trait("Category", Category.AwsLocal)]
public sealed class EksProviderTests : IDisposable
{
    private static readonly NodeGroupSpec Hot = new(
        "kbl-hot", 1, 4, 2, "m5.large", ["us-east-1a", "us-east-1b"],
        new Dictionary<string, string> { ["kbl.io/tier"] = "hot" },
        [new NodeTaint("kbl.io/hot", "true", "NO_SCHEDULE")],
        ["orders"]);

    private static readonly NodeGroupSpec Cold = new(
        "kbl-cold", 0, 3, 2, "t3.large", [],
        new Dictionary<string, string> { ["kbl.io/tier"] = "cold", ["team"] = "data" },
        [],
        ["archive"]);

    private readonly EksMoto _aws;
    private readonly HttpClient _http = new();
    private readonly AmazonEC2Client _ec2;

    public EksProviderTests(EksMoto aws)
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
    public async Task Converges_through_create_scale_relabel_and_remove_despite_faults()
    {
        var (client, options) = await NewCluster("kbl-seq");
        var proxy = _aws.Proxy;
        var defaults = await DefaultSubnets();
        await client.CreateNodegroup(new EksCreateNodegroupRequest("theirs", new(1, 1, 1), [defaults["us-east-1a"]], null, EksMoto.NodeRole, null, null, null, null), CancellationToken.None);
        var silos = new RecordingStatefulSets(group => proxy.Requests.Count(r => r.IsMutating && r.Nodegroup == group && r.UpstreamStatus == 200));
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options, silos);

        // 1. Two new groups: throttled creates, a create whose answer is lost after moto made the group, a slow CREATING.
        proxy.Fail("POST", "/node-groups$", 2, EksFault.Throttling, bodyContains: "\"nodegroupName\":\"kbl-hot\"");
        proxy.Fail("POST", "/node-groups$", 1, EksFault.Server, bodyContains: "\"nodegroupName\":\"kbl-cold\"", afterForwarding: true);
        proxy.ShowStatus("kbl-hot", "CREATING", 4); // the create's answer and three describes
        var first = Desired(1, Hot, Cold);

        await Converged(provider, first, client, defaults);

        Assert.Equal(1, SuccessfulCreates("kbl-hot"));
        Assert.Equal(1, SuccessfulCreates("kbl-cold"));
        Assert.Equal([429, 429, 200], Creates("kbl-hot").Select(r => r.Status));
        Assert.Equal([500, 409], Creates("kbl-cold").Select(r => r.Status));
        Assert.Single(Creates("kbl-cold").Select(r => r.Body).Distinct()); // the retry is the same request, token and all
        Assert.True(proxy.Requests.Count(r => r.Method == "GET" && r.Path == "/clusters/kbl-seq/node-groups/kbl-hot") >= 4, "waited through CREATING");
        Assert.Equal(new Dictionary<string, int> { ["kbl-hot"] = 2, ["kbl-cold"] = 2 }, silos.Replicas);

        await NoChangeWhenRepeated(provider, first);

        // 2. Scale the hot group up through a busy group (409) and an update that stays InProgress; the cold group down.
        var hot2 = Hot with { Max = 6, Desired = 5 };
        var cold2 = Cold with { Desired = 1 };
        proxy.Fail("POST", "/kbl-hot/update-config$", 1, EksFault.ResourceInUse);
        proxy.HoldUpdates(1, 2);
        var mark = proxy.Requests.Count;
        var second = Desired(2, hot2, cold2);

        await Converged(provider, second, client, defaults);

        var since = proxy.Requests.Skip(mark).ToList();
        Assert.Equal(2, since.Count(r => r.Path.EndsWith("/update-config", StringComparison.Ordinal) && r.Status == 200));
        Assert.Equal([409, 200], since.Where(r => r.Path.EndsWith("/kbl-hot/update-config", StringComparison.Ordinal)).Select(r => r.Status));
        Assert.Equal(3, since.Count(r => r.Path.StartsWith("/clusters/kbl-seq/updates/", StringComparison.Ordinal)));
        var shrink = silos.Calls.First(c => c is { Operation: "scale", NodeGroup: "kbl-cold", Replicas: 1 });
        Assert.Equal(SuccessfulCreates("kbl-cold"), shrink.EksChangesBefore); // silos went down before the nodes
        Assert.Equal(new Dictionary<string, int> { ["kbl-hot"] = 5, ["kbl-cold"] = 1 }, silos.Replicas);

        // 3. New labels and taints (a label and a taint go, one changes, others come) through a server error.
        var hot3 = hot2 with
        {
            Labels = new Dictionary<string, string> { ["kbl.io/tier"] = "warm", ["kbl.io/pinned"] = "orders" },
            Taints = [new NodeTaint("kbl.io/hot", "true", "NO_EXECUTE")],
        };
        var cold3 = cold2 with
        {
            Labels = new Dictionary<string, string> { ["kbl.io/tier"] = "cold" },
            Taints = [new NodeTaint("kbl.io/cold", "", "PREFER_NO_SCHEDULE"), new NodeTaint("kbl.io/archive", "yes", "NO_SCHEDULE")],
        };
        proxy.Fail("POST", "/kbl-cold/update-config$", 1, EksFault.Server);
        var third = Desired(3, hot3, cold3);

        await Converged(provider, third, client, defaults);
        await NoChangeWhenRepeated(provider, third);

        // 4. The hot group goes: its silos drain and their StatefulSet goes first; the group nobody asked Kbl about stays.
        var fourth = Desired(4, cold3);

        await Converged(provider, fourth, client, defaults);

        Assert.Equal(["kbl-cold", "theirs"], (await client.ListNodegroups(CancellationToken.None)).Order());
        var hotChangesBeforeDelete = proxy.Requests.Count(r => r.IsMutating && r.Method != "DELETE" && r.Nodegroup == "kbl-hot" && r.UpstreamStatus == 200);
        Assert.Equal(3, hotChangesBeforeDelete); // create, scale, relabel
        Assert.Equal(
            [new StatefulSetCall("scale", "kbl-hot", 0, hotChangesBeforeDelete), new StatefulSetCall("remove", "kbl-hot", 0, hotChangesBeforeDelete)],
            silos.Calls.Where(c => c.NodeGroup == "kbl-hot").TakeLast(2));
        Assert.Single(proxy.Requests, r => r.Method == "DELETE" && r.Nodegroup == "kbl-hot");
        Assert.Single(proxy.Requests, r => r.IsMutating && r.Nodegroup == "theirs"); // the test's own create
        Assert.False(silos.Replicas.ContainsKey("kbl-hot"));
        await NoChangeWhenRepeated(provider, fourth);
        Assert.Equal(1, SuccessfulCreates("kbl-hot"));
        Assert.Equal(1, SuccessfulCreates("kbl-cold"));
    }

    [Fact]
    public async Task A_zone_without_a_subnet_is_an_error_of_the_round_and_the_other_groups_go_on()
    {
        var (client, options) = await NewCluster("kbl-zones");
        var defaults = await DefaultSubnets();
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client, [defaults["us-east-1a"]]), options);
        var ok = Hot with { Name = "kbl-ok", Zones = ["us-east-1a"] };
        var lost = Hot with { Name = "kbl-lost", Zones = ["us-east-1a", "us-east-1c"] };

        var observed = await provider.Reconcile(Desired(1, ok, lost), CancellationToken.None);

        Assert.Contains("node group kbl-lost: zone us-east-1c has no subnet", observed.Error, StringComparison.Ordinal);
        Assert.Equal(["kbl-ok"], await client.ListNodegroups(CancellationToken.None));
        Assert.DoesNotContain(_aws.Proxy.Requests, r => r.Nodegroup == "kbl-lost");
        Assert.Equal(new ObservedGroup("kbl-ok", "ACTIVE", 2, 2, []), observed.Groups.Single(g => g.Name == "kbl-ok") with { Issues = [] });
        Assert.Equal(("MISSING", 0), observed.Groups.Single(g => g.Name == "kbl-lost") is var l ? (l.Status, l.Ready) : default);
    }

    [Fact]
    public async Task Failed_and_degraded_groups_report_their_health_issues_without_waiting_them_out()
    {
        var (client, options) = await NewCluster("kbl-health");
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options);
        _aws.Proxy.ShowStatus("kbl-broken", "CREATE_FAILED", 1000, ("Ec2SubnetInvalidConfiguration", "One or more Amazon EC2 Subnets do not automatically assign public IP addresses"));
        _aws.Proxy.ShowStatus("kbl-sick", "CREATING", 1);
        _aws.Proxy.ShowStatus("kbl-sick", "DEGRADED", 1000, ("InsufficientFreeAddresses", "One or more of the subnets has no free addresses"));

        var observed = await provider.Reconcile(Desired(1, Hot with { Name = "kbl-broken" }, Cold with { Name = "kbl-sick" }), CancellationToken.None);

        var broken = observed.Groups.Single(g => g.Name == "kbl-broken");
        var sick = observed.Groups.Single(g => g.Name == "kbl-sick");
        Assert.Equal(("CREATE_FAILED", 0), (broken.Status, broken.Ready));
        Assert.Equal(["Ec2SubnetInvalidConfiguration: One or more Amazon EC2 Subnets do not automatically assign public IP addresses"], broken.Issues);
        Assert.Equal(("DEGRADED", 0), (sick.Status, sick.Ready));
        Assert.Equal(["InsufficientFreeAddresses: One or more of the subnets has no free addresses"], sick.Issues);
        Assert.False(observed.Matches(Desired(1, Hot with { Name = "kbl-broken" }, Cold with { Name = "kbl-sick" })));
        // Waiting them out would poll every 50 ms until WaitTimeout (10 s): a couple of describes each means it did not.
        Assert.InRange(_aws.Proxy.Requests.Count(r => r.Method == "GET" && r.Nodegroup == "kbl-broken"), 0, 2);
        Assert.InRange(_aws.Proxy.Requests.Count(r => r.Method == "GET" && r.Nodegroup == "kbl-sick"), 1, 3);
    }

    [Fact]
    public async Task A_wait_that_times_out_is_resumed_by_the_next_round_without_a_second_create()
    {
        var (client, options) = await NewCluster("kbl-slow");
        options.WaitTimeout = TimeSpan.FromMilliseconds(300);
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options);
        _aws.Proxy.ShowStatus("kbl-hot", "CREATING", 1000);
        var desired = Desired(7, Hot);

        var waiting = await provider.Reconcile(desired, CancellationToken.None);
        _aws.Proxy.ClearScript();
        var done = await provider.Reconcile(desired, CancellationToken.None);

        Assert.Contains("node group kbl-hot: still CREATING after", waiting.Error, StringComparison.Ordinal);
        Assert.Equal("CREATING", waiting.Groups.Single().Status);
        Assert.True(done.Matches(desired), Show(done));
        Assert.Single(Creates("kbl-hot"));
    }

    [Fact]
    public async Task A_failed_update_is_an_error_with_EKS_reasons()
    {
        var (client, options) = await NewCluster("kbl-upfail");
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options);
        Assert.True((await provider.Reconcile(Desired(1, Cold), CancellationToken.None)).Matches(Desired(1, Cold)));
        _aws.Proxy.HoldUpdates(1, 1, "Failed");

        var observed = await provider.Reconcile(Desired(2, Cold with { Desired = 3 }), CancellationToken.None);

        Assert.Matches("node group kbl-cold: update [0-9a-f-]+ Failed \\(NodeCreationFailure: instances failed to join the cluster\\)", observed.Error);
    }

    [Fact]
    public async Task A_wanted_group_that_Kbl_did_not_create_is_left_alone()
    {
        var (client, options) = await NewCluster("kbl-foreign");
        await client.CreateNodegroup(new EksCreateNodegroupRequest("kbl-cold", new(1, 1, 1), ["subnet-1"], null, EksMoto.NodeRole, null, null, null, null), CancellationToken.None);
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options);

        var observed = await provider.Reconcile(Desired(1, Cold), CancellationToken.None);

        Assert.Null(observed.Error); // the round converges as far as Kbl may go
        Assert.Contains(Assert.Single(observed.Groups).Issues, i => i.Contains("node group kbl-cold exists but is not tagged kbl.io/managed-by=kbl", StringComparison.Ordinal));
        Assert.Single(_aws.Proxy.Requests, r => r.IsMutating && r.Nodegroup == "kbl-cold"); // the test's own create
        var group = await client.DescribeNodegroup("kbl-cold", CancellationToken.None);
        Assert.Equal(new EksScalingConfig(1, 1, 1), group?.ScalingConfig);
    }

    [Fact]
    public async Task A_group_handed_over_keeps_its_owners_limits_labels_and_taints()
    {
        var (client, options) = await NewCluster("kbl-adopt");
        var defaults = await DefaultSubnets();
        await client.CreateNodegroup(new EksCreateNodegroupRequest(
            "hot", new(2, 5, 2), [defaults["us-east-1a"]], ["m5.large"], EksMoto.NodeRole,
            new Dictionary<string, string> { ["alpha.eksctl.io/nodegroup-name"] = "hot", ["kbl.io/old"] = "x" },
            [new EksTaint("dedicated", "db", "NO_SCHEDULE")],
            new Dictionary<string, string> { ["kbl.io/managed-by"] = "kbl", ["alpha.eksctl.io/cluster-name"] = "kbl-adopt" }, null), CancellationToken.None);
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options);
        var wanted = Hot with { Name = "hot", Min = 1, Max = 10, Desired = 4, Labels = new Dictionary<string, string> { ["kbl.io/tier"] = "hot" } };

        var grown = await provider.Reconcile(Desired(1, wanted), CancellationToken.None);
        var afterGrowth = (await client.DescribeNodegroup("hot", CancellationToken.None))!;
        var capped = await provider.Reconcile(Desired(2, wanted with { Desired = 8 }), CancellationToken.None);
        var afterCap = (await client.DescribeNodegroup("hot", CancellationToken.None))!;

        // Kbl owns the desired size; the owner keeps min and max: the plan's 1..10 does not replace 2..5.
        Assert.True(grown.Matches(Desired(1, wanted)), Show(grown));
        Assert.Equal(new EksScalingConfig(2, 5, 4), afterGrowth.ScalingConfig);
        Assert.Equal(new EksScalingConfig(2, 5, 5), afterCap.ScalingConfig);
        Assert.Contains(Assert.Single(capped.Groups).Issues, i => i.StartsWith("DesiredOutsideLimits: the plan wants 8 nodes", StringComparison.Ordinal));

        // Kbl adds its labels and taints and removes only its own kbl.io/ ones; eksctl's stay.
        Assert.Equal(
            new Dictionary<string, string> { ["alpha.eksctl.io/nodegroup-name"] = "hot", ["kbl.io/node-group"] = "hot", ["kbl.io/tier"] = "hot" },
            afterCap.Labels);
        Assert.Equal(
            [("dedicated", "db", "NO_SCHEDULE"), ("kbl.io/hot", "true", "NO_SCHEDULE")],
            (afterCap.Taints ?? []).Select(t => (t.Key, t.Value ?? "", t.Effect)).Order());
        Assert.Single(_aws.Proxy.Requests, r => r.Method == "POST" && r.Path.EndsWith("/node-groups", StringComparison.Ordinal)); // the test's own
        Assert.DoesNotContain(_aws.Proxy.Requests, r => r.Method == "DELETE");
    }

    private async Task<(EksClient Client, EksOptions Options)> NewCluster(string name)
    {
        var options = _aws.Options(name);
        var client = EksMoto.Client(_http, options);
        await _aws.CreateCluster(client, name);
        return (client, options);
    }

    /// <summary>Reconciles, and checks the observed state and EKS itself both match <paramref name="desired"/>.</summary>
    private static async Task Converged(EksNodeGroupProvider provider, DesiredState desired, EksClient client, IReadOnlyDictionary<string, string> defaults)
    {
        var observed = await provider.Reconcile(desired, CancellationToken.None);
        Assert.True(observed.Matches(desired), Show(observed));
        Assert.Equal("eks", observed.Provider);

        var names = await client.ListNodegroups(CancellationToken.None);
        Assert.Equal(desired.Groups.Select(g => g.Name).Append("theirs").Order(StringComparer.Ordinal), names.Order(StringComparer.Ordinal));
        foreach (var spec in desired.Groups)
        {
            var group = await client.DescribeNodegroup(spec.Name, CancellationToken.None);
            Assert.NotNull(group);
            Assert.Equal("ACTIVE", group.Status);
            Assert.Equal(new EksScalingConfig(spec.Min, spec.Max, spec.Desired), group.ScalingConfig);
            Assert.Equal([spec.InstanceType], group.InstanceTypes);
            Assert.Equal(EksMoto.NodeRole, group.NodeRole);
            Assert.Equal(new Dictionary<string, string>(spec.Labels) { ["kbl.io/node-group"] = spec.Name }, group.Labels);
            Assert.Equal(
                spec.Taints.Select(t => (t.Key, t.Value, t.Effect)).Order(),
                (group.Taints ?? []).Select(t => (t.Key, t.Value ?? "", t.Effect)).Order());
            Assert.Equal("kbl", group.Tags?["kbl.io/managed-by"]);
            var zones = spec.Zones.Count > 0 ? spec.Zones : defaults.Keys.Order(StringComparer.Ordinal).ToList();
            Assert.Equal(zones.Select(z => defaults[z]), group.Subnets);
        }
    }

    private async Task NoChangeWhenRepeated(EksNodeGroupProvider provider, DesiredState desired)
    {
        var mark = _aws.Proxy.Requests.Count;
        var observed = await provider.Reconcile(desired, CancellationToken.None);
        Assert.True(observed.Matches(desired), Show(observed));
        Assert.DoesNotContain(_aws.Proxy.Requests.Skip(mark), r => r.IsMutating);
    }

    private async Task<IReadOnlyDictionary<string, string>> DefaultSubnets()
    {
        var subnets = await _ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = [new Filter("default-for-az", ["true"])] });
        return subnets.Subnets.ToDictionary(s => s.AvailabilityZone, s => s.SubnetId);
    }

    private List<ProxiedRequest> Creates(string group) =>
        [.. _aws.Proxy.Requests.Where(r => r.Method == "POST" && r.Path.EndsWith("/node-groups", StringComparison.Ordinal) && r.Nodegroup == group)];

    /// <summary>Creates that moto carried out (whatever the client was answered): more than one would be a duplicate group.</summary>
    private int SuccessfulCreates(string group) => Creates(group).Count(r => r.UpstreamStatus == 200);

    private static DesiredState Desired(long generation, params NodeGroupSpec[] groups) =>
        new(generation, DateTimeOffset.UnixEpoch.AddDays(generation), groups);

    private static string Show(ObservedState observed) => ProvisioningJson.Serialize(observed);
}
