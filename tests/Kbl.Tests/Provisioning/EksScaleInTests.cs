using System.Globalization;
using Amazon.EC2;
using Amazon.EC2.Model;
using k8s.Models;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Eks;
using Kbl.NodeGroups.Kubernetes;
using Kbl.NodeGroups.Providers;
using Kbl.Provisioning;
using Kbl.Tests.Deployment;
using Microsoft.Extensions.Options;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// Per-zone node groups and the targeted scale-in, end to end: EKS, EC2 and EC2 Auto Scaling on moto behind the fault
/// proxy, the silo StatefulSets, pods and nodes on the Kubernetes API double (which plays the StatefulSet controller
/// and the kubelet), through the real <see cref="SiloStatefulSets"/> and <see cref="AutoScalingClient"/>.
/// </summary>
/// <remarks>
/// moto makes a node group's Auto Scaling group only by name (<c>resources.autoScalingGroups</c>), not the group itself:
/// the test creates it under that name with a launch template and as many instances as the node group wants, signing
/// CreateAutoScalingGroup the way <see cref="AutoScalingClient"/> signs its calls, and registers a node per instance.
/// </remarks>
[Collection(EksMotoCollection.Name)]
[Trait("Category", Category.AwsLocal)]
public sealed class EksScaleInTests : IDisposable
{
    private const string Namespace = "kbl";
    private static readonly string[] TwoZones = ["us-east-1a", "us-east-1b"];

    private readonly EksMoto _aws;
    private readonly HttpClient _http = new();
    private readonly AmazonEC2Client _ec2;
    private readonly KubernetesApiDouble _api = new();
    private readonly k8s.Kubernetes _kubernetes;
    private readonly Dictionary<string, string> _instances = new(StringComparer.Ordinal);

    public EksScaleInTests(EksMoto aws)
    {
        _aws = aws;
        _aws.Proxy.Reset();
        _ec2 = aws.Ec2();
        _kubernetes = new k8s.Kubernetes(_api.Configuration);
    }

    public void Dispose()
    {
        _kubernetes.Dispose();
        _api.Dispose();
        _ec2.Dispose();
        _http.Dispose();
    }

    [Fact]
    public async Task A_group_becomes_one_node_group_and_statefulset_per_zone_each_in_its_own_zones_subnets()
    {
        var (client, provider, _) = await Setup("kbl-zonal");
        var hot = Spec(desired: 3);
        foreach (var zone in TwoZones)
        {
            _api.RunPods(Namespace, $"kbl-hot-{zone}", ordinal => $"node-{zone}-{ordinal}");
        }

        await provider.Reconcile(Desired(1, hot), CancellationToken.None);
        var observed = await provider.Reconcile(Desired(1, hot), CancellationToken.None); // once the pods are up

        Assert.True(observed.Matches(Desired(1, hot)), ProvisioningJson.Serialize(observed));
        Assert.Equal(["hot-us-east-1a", "hot-us-east-1b"], (await client.ListNodegroups(CancellationToken.None)).Order(StringComparer.Ordinal));
        var defaults = await DefaultSubnets();
        foreach (var (zone, size) in new[] { ("us-east-1a", 2), ("us-east-1b", 1) })
        {
            var group = (await client.DescribeNodegroup($"hot-{zone}", CancellationToken.None))!;
            Assert.Equal([defaults[zone]], group.Subnets);
            Assert.Equal(size, group.ScalingConfig!.DesiredSize);
            Assert.Equal(("hot", zone), (group.Labels!["kbl.io/node-group"], group.Labels!["kbl.io/zone"]));

            var set = _api.Get(Namespace, $"kbl-hot-{zone}")!;
            Assert.Equal(size, set.Spec.Replicas);
            Assert.Equal($"hot-{zone}", set.Spec.Template.Spec.NodeSelector["eks.amazonaws.com/nodegroup"]);
            Assert.Equal(zone, set.Spec.Template.Spec.NodeSelector["topology.kubernetes.io/zone"]);
            Assert.Equal(("hot", zone), (set.Silo().Env("Kbl__NodeGroup"), set.Silo().Env("Kbl__Zone")));
            Assert.Equal(("hot", zone), (set.Spec.Selector.MatchLabels["kbl/node-group"], set.Spec.Selector.MatchLabels["kbl/zone"]));
        }

        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task Scale_in_drains_the_silo_the_statefulset_stops_and_terminates_exactly_its_node()
    {
        var (client, provider, _) = await Setup("kbl-shrink");
        var proxy = _aws.Proxy;

        // DescribeCluster (the subnets) is throttled on the way: retried.
        proxy.Fail("GET", "^/clusters/kbl-shrink$", 2, EksFault.Throttling);
        var four = Spec(desired: 4);
        await provider.Reconcile(Desired(1, four), CancellationToken.None);
        var asgs = new Dictionary<string, string>(StringComparer.Ordinal);
        var instancesOf = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var zone in TwoZones)
        {
            var group = (await client.DescribeNodegroup($"hot-{zone}", CancellationToken.None))!;
            asgs[zone] = Assert.Single(group.Resources!.AutoScalingGroups!).Name!;
            instancesOf[zone] = await CreateAutoScalingGroup(asgs[zone], zone, 2);
            for (var i = 0; i < 2; i++)
            {
                AddNode(instancesOf[zone][i], zone, $"hot-{zone}");
            }

            var nodes = instancesOf[zone];
            _api.RunPods(Namespace, $"kbl-hot-{zone}", ordinal => ordinal < nodes.Count ? NodeName(nodes[ordinal]) : null);
        }

        var atFour = await provider.Reconcile(Desired(1, four), CancellationToken.None);
        Assert.True(atFour.Matches(Desired(1, four)), ProvisioningJson.Serialize(atFour));
        Assert.True(proxy.Requests.Count(r => r.Path == "/clusters/kbl-shrink" && r.InjectedError == "ThrottlingException") == 2);

        // Down to one silo per zone. The silo each StatefulSet stops next is ordinal 1: its node, and only it, must go.
        var leaving = TwoZones.ToDictionary(zone => zone, zone => _api.PodNodes(Namespace, $"kbl-hot-{zone}")[1], StringComparer.Ordinal);
        var staying = TwoZones.ToDictionary(zone => zone, zone => _api.PodNodes(Namespace, $"kbl-hot-{zone}")[0], StringComparer.Ordinal);
        proxy.Fail("POST", "^/$", 1, EksFault.AutoScalingThrottling, bodyContains: "Action=TerminateInstanceInAutoScalingGroup");
        var mark = proxy.Requests.Count;
        var apiMark = _api.Calls.Count;
        var two = Spec(desired: 2);

        var observed = await provider.Reconcile(Desired(2, two), CancellationToken.None);

        Assert.True(observed.Matches(Desired(2, two)), ProvisioningJson.Serialize(observed));
        var terminations = proxy.Requests.Skip(mark).Where(r => r.Action == "TerminateInstanceInAutoScalingGroup").ToList();
        Assert.Equal(3, terminations.Count); // one throttled and retried
        var done = terminations.Where(r => r.UpstreamStatus == 200).ToList();
        Assert.Equal(
            TwoZones.Select(zone => InstanceOf(leaving[zone])).Order(StringComparer.Ordinal),
            done.Select(r => Parameter(r.Body, "InstanceId")).Order(StringComparer.Ordinal));
        Assert.All(done, r => Assert.Equal("true", Parameter(r.Body, "ShouldDecrementDesiredCapacity")));

        var apiCalls = _api.Calls.Skip(apiMark).ToList();
        foreach (var zone in TwoZones)
        {
            // The Auto Scaling group shrank by exactly the chosen instance; EKS's own size says the same.
            var asg = await new AutoScalingClient(_http, _aws.Options("kbl-shrink", zonal: true), EksMoto.Credentials).DescribeAutoScalingGroup(asgs[zone], CancellationToken.None);
            Assert.Equal(1, asg!.DesiredCapacity);
            Assert.Equal([InstanceOf(staying[zone])], asg.Instances.Select(i => i.InstanceId));
            Assert.Equal(1, (await client.DescribeNodegroup($"hot-{zone}", CancellationToken.None))!.ScalingConfig!.DesiredSize);
            Assert.True(_api.IsCordoned(leaving[zone]), $"{leaving[zone]} was not cordoned");
            Assert.False(_api.IsCordoned(staying[zone]), $"{staying[zone]} was cordoned");
            Assert.Equal(1, _api.Get(Namespace, $"kbl-hot-{zone}")!.Spec.Replicas);

            // In order: cordon, one silo fewer, the pod gone (drained), then its instance terminated.
            var cordon = apiCalls.Single(c => c.Method == "PATCH" && c.Path == $"/api/v1/nodes/{leaving[zone]}");
            var scale = apiCalls.Single(c => c.Method == "PATCH" && c.Path.EndsWith($"/statefulsets/kbl-hot-{zone}/scale", StringComparison.Ordinal));
            var gone = apiCalls.First(c => c.Path == $"/api/v1/namespaces/{Namespace}/pods/kbl-hot-{zone}-1" && c.Status == 404);
            var terminate = done.Single(r => Parameter(r.Body, "InstanceId") == InstanceOf(leaving[zone]));
            Assert.True(cordon.Order < scale.Order && scale.Order < gone.Order && gone.Order < terminate.Order,
                $"{zone}: cordon {cordon.Order}, scale {scale.Order}, pod gone {gone.Order}, terminate {terminate.Order}");
            Assert.Equal("""{"spec":{"unschedulable":true}}""", cordon.Body);
        }

        Assert.Empty(_api.Rejected);

        // Nothing left to do: a repeated round changes nothing anywhere.
        var again = proxy.Requests.Count;
        var apiAgain = _api.Writes.Count;
        Assert.True((await provider.Reconcile(Desired(2, two), CancellationToken.None)).Matches(Desired(2, two)));
        Assert.DoesNotContain(proxy.Requests.Skip(again), r => r.IsMutating);
        Assert.Equal(apiAgain, _api.Writes.Count);
    }

    [Fact]
    public async Task A_sleeping_group_goes_to_zero_nodes_and_zero_silos_and_comes_back_with_one()
    {
        var (client, provider, _) = await Setup("kbl-zero");
        var two = Spec(desired: 2, min: 0);
        await provider.Reconcile(Desired(1, two), CancellationToken.None);
        foreach (var zone in TwoZones)
        {
            var group = (await client.DescribeNodegroup($"hot-{zone}", CancellationToken.None))!;
            var instances = await CreateAutoScalingGroup(Assert.Single(group.Resources!.AutoScalingGroups!).Name!, zone, 1);
            AddNode(instances[0], zone, $"hot-{zone}");
            _api.RunPods(Namespace, $"kbl-hot-{zone}", ordinal => ordinal == 0 ? NodeName(instances[0]) : null);
        }

        Assert.True((await provider.Reconcile(Desired(1, two), CancellationToken.None)).Matches(Desired(1, two)));

        // Every colony of the group hibernates: the plan asks for zero (its minimum is 0).
        var zero = Spec(desired: 0, min: 0);
        var observed = await provider.Reconcile(Desired(2, zero), CancellationToken.None);
        Assert.True(observed.Matches(Desired(2, zero)), ProvisioningJson.Serialize(observed));
        foreach (var zone in TwoZones)
        {
            var scaling = (await client.DescribeNodegroup($"hot-{zone}", CancellationToken.None))!.ScalingConfig!;
            Assert.Equal((0, 0), (scaling.MinSize, scaling.DesiredSize));
            Assert.Equal(0, _api.Get(Namespace, $"kbl-hot-{zone}")!.Spec.Replicas);
        }

        // A request waits for the group: the plan asks for one node, and one zone gets it back.
        var one = Spec(desired: 1, min: 0);
        await provider.Reconcile(Desired(3, one), CancellationToken.None);
        var sizes = new List<int>();
        foreach (var zone in TwoZones)
        {
            sizes.Add((await client.DescribeNodegroup($"hot-{zone}", CancellationToken.None))!.ScalingConfig!.DesiredSize);
            Assert.Equal(sizes[^1], _api.Get(Namespace, $"kbl-hot-{zone}")!.Spec.Replicas);
        }

        Assert.Equal(1, sizes.Sum());
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task A_silo_on_no_known_instance_leaves_the_choice_to_EKS_and_says_so()
    {
        var (client, provider, _) = await Setup("kbl-unknown");
        var two = Spec(desired: 2) with { Zones = ["us-east-1a"] };
        await provider.Reconcile(Desired(1, two), CancellationToken.None);
        var group = (await client.DescribeNodegroup("hot-us-east-1a", CancellationToken.None))!;
        await CreateAutoScalingGroup(group.Resources!.AutoScalingGroups![0].Name!, "us-east-1a", 2);
        _api.AddNode("ip-10-0-0-9.ec2.internal", "us-east-1a", "i-0000000000000dead", "hot-us-east-1a"); // not in the group
        _api.RunPods(Namespace, "kbl-hot-us-east-1a", _ => "ip-10-0-0-9.ec2.internal");
        var mark = _aws.Proxy.Requests.Count;

        var observed = await provider.Reconcile(Desired(2, two with { Desired = 1 }), CancellationToken.None);

        var issue = Assert.Single(Assert.Single(observed.Groups).Issues);
        Assert.Contains("TargetedScaleInSkipped", issue, StringComparison.Ordinal);
        Assert.Contains("i-0000000000000dead", issue, StringComparison.Ordinal);
        Assert.DoesNotContain(_aws.Proxy.Requests.Skip(mark), r => r.Action == "TerminateInstanceInAutoScalingGroup");
        Assert.False(_api.IsCordoned("ip-10-0-0-9.ec2.internal"));
        Assert.Equal(1, (await client.DescribeNodegroup("hot-us-east-1a", CancellationToken.None))!.ScalingConfig!.DesiredSize);
        Assert.Equal(1, _api.Get(Namespace, "kbl-hot-us-east-1a")!.Spec.Replicas); // silos first, as before
    }

    private async Task<(EksClient Client, EksNodeGroupProvider Provider, EksOptions Options)> Setup(string cluster)
    {
        var options = _aws.Options(cluster, zonal: true);
        var client = EksMoto.Client(_http, options);
        await _aws.CreateCluster(client, cluster);
        var template = Manifests.ExampleResources.Of<V1StatefulSet>()
            .First(s => s.Metadata.Name == ProvisionerTemplate());
        _api.Put(template);
        var sets = new SiloStatefulSets(
            _kubernetes,
            Options.Create(new ProvisioningOptions { Kubernetes = { Namespace = Namespace, TemplateStatefulSet = template.Metadata.Name } }),
            new RecordingLogger<SiloStatefulSets>());
        var provider = new EksNodeGroupProvider(client, _aws.Zones(_ec2, client), options, sets,
            autoScaling: new AutoScalingClient(_http, options, EksMoto.Credentials));
        return (client, provider, options);
    }

    /// <summary>The example overlay's template StatefulSet for new groups (what the Provisioner's settings name).</summary>
    private static string ProvisionerTemplate() =>
        Manifests.ExampleResources.Named<V1Deployment>("kbl-provisioner").Spec.Template.Spec.Containers[0]
            .Env.Single(e => e.Name == "Kbl__Provisioning__Kubernetes__TemplateStatefulSet").Value;

    /// <summary>A launch template and an Auto Scaling group named as EKS named it, with <paramref name="size"/> instances in the zone's default subnet; its instance ids, ordered.</summary>
    private async Task<List<string>> CreateAutoScalingGroup(string name, string zone, int size)
    {
        var subnets = await DefaultSubnets();
        var image = (await _ec2.DescribeImagesAsync(new DescribeImagesRequest())).Images[0].ImageId;
        await _ec2.CreateLaunchTemplateAsync(new CreateLaunchTemplateRequest
        {
            LaunchTemplateName = "lt-" + name,
            LaunchTemplateData = new RequestLaunchTemplateData { ImageId = image, InstanceType = InstanceType.M5Large },
        });
        var body = string.Join('&',
            "Action=CreateAutoScalingGroup", "Version=2011-01-01", $"AutoScalingGroupName={Uri.EscapeDataString(name)}",
            $"LaunchTemplate.LaunchTemplateName={Uri.EscapeDataString("lt-" + name)}", "MinSize=0", "MaxSize=10",
            string.Create(CultureInfo.InvariantCulture, $"DesiredCapacity={size}"), $"VPCZoneIdentifier={subnets[zone]}");
        var call = new EksCall("CreateAutoScalingGroup", HttpMethod.Post, new Uri(_aws.MotoUrl), "/", body: body);
        using var request = EksSigner.Sign(call, await EksMoto.Credentials.GetCredentialsAsync(), EksMoto.Region, DateTimeOffset.UtcNow, AutoScalingClient.ServiceName, AutoScalingClient.FormContentType);
        using var response = await _http.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var group = await new AutoScalingClient(_http, _aws.Options("any"), EksMoto.Credentials).DescribeAutoScalingGroup(name, CancellationToken.None);
        return [.. group!.Instances.Select(i => i.InstanceId).Order(StringComparer.Ordinal)];
    }

    private async Task<IReadOnlyDictionary<string, string>> DefaultSubnets()
    {
        var subnets = await _ec2.DescribeSubnetsAsync(new DescribeSubnetsRequest { Filters = [new Filter("default-for-az", ["true"])] });
        return subnets.Subnets.ToDictionary(s => s.AvailabilityZone, s => s.SubnetId);
    }

    private static string NodeName(string instance) => $"ip-{instance[2..10]}.ec2.internal";

    /// <summary>The instance behind a node the test registered (<see cref="NodeName"/> is the other way).</summary>
    private string InstanceOf(string node) => _instances[node];

    private void AddNode(string instance, string zone, string eksNodeGroup)
    {
        _instances[NodeName(instance)] = instance;
        _api.AddNode(NodeName(instance), zone, instance, eksNodeGroup);
    }

    private static string? Parameter(string body, string name) =>
        body.Split('&').Select(p => p.Split('=', 2)).FirstOrDefault(p => p[0] == name) is { } pair ? Uri.UnescapeDataString(pair[1]) : null;

    private static NodeGroupSpec Spec(int desired, int min = 1) =>
        new("hot", min, 6, desired, "m5.large", TwoZones, new Dictionary<string, string>(), [], ["orders"]);

    private static DesiredState Desired(long generation, params NodeGroupSpec[] groups) =>
        new(generation, DateTimeOffset.UnixEpoch.AddDays(generation), groups);
}
