using System.Net.Http.Json;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Eks;
using Kbl.Provisioning;
using Kbl.Tests.Provisioning;

namespace Kbl.Tests.Process;

/// <summary>
/// The AWS shape of the loop, every part a real process: a silo publishing desired states to SQS (moto), the
/// Provisioner process taking them from the queue and reconciling EKS managed node groups (moto, behind the fault
/// proxy: throttling, a lost answer, slow CREATING, an update in progress), and reporting
/// back to the silo's gateway. Load scales the group up and its end scales it down; a crashed Provisioner, a
/// stale and a repeated message change nothing wrong.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class ProvisionerProcessTests : IAsyncLifetime
{
    private const string Cluster = "kbl-e2e";
    private readonly MotoServer _moto = new();
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-provisioner-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<ProvisionerProcess> _provisioners = [];
    private FaultProxy _proxy = null!;
    private SiloProcess _silo = null!;
    private AmazonSQSClient _sqs = null!;
    private string _queueUrl = "";
    private HttpClient _eksHttp = null!;
    private readonly int _healthPort = SiloProcess.FreePort();
    private EksClient _eks = null!;

    public async Task InitializeAsync()
    {
        await _moto.InitializeAsync();
        _proxy = new FaultProxy(_moto.ServiceUrl);
        var credentials = new BasicAWSCredentials("kbl-test", "kbl-test-secret");
        _sqs = new AmazonSQSClient(credentials, new AmazonSQSConfig { ServiceURL = _moto.ServiceUrl, AuthenticationRegion = "us-east-1" });
        _queueUrl = (await _sqs.CreateQueueAsync(new CreateQueueRequest { QueueName = "kbl-desired", Attributes = new() { ["VisibilityTimeout"] = "2" } })).QueueUrl;
        _eksHttp = new HttpClient();
        _eks = new EksClient(_eksHttp, Eks(), credentials);
        await EksMoto.CreateCluster(_eks, Cluster, _moto.ServiceUrl);

        _silo = new SiloProcess(Path.Combine(_root, "silo"), "silo", new Dictionary<string, string>(Queue)
        {
            ["Kbl:FeedbackPeriod"] = "00:00:01",
            ["Kbl:Provisioning:Provider"] = "eks",
            ["Kbl:Provisioning:Period"] = "00:00:01",
            ["Kbl:Provisioning:ScaleDownCoolDown"] = "00:00:05",
            ["Kbl:Provisioning:OpsPerNode"] = "40",
            ["Kbl:Provisioning:MaxNodesPerGroup"] = "3",
            ["Kbl:Provisioning:HotSubtreeShare"] = "0",
            ["Kbl:Provisioning:InstanceType"] = "m6i.large",
        });
        await _silo.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var provisioner in _provisioners)
        {
            await provisioner.DisposeAsync();
        }

        await _silo.DisposeAsync();
        await _proxy.DisposeAsync();
        _sqs.Dispose();
        _eksHttp.Dispose();
        await _moto.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Dictionary<string, string> Queue => new()
    {
        ["Kbl:Provisioning:Queue"] = "sqs",
        ["Kbl:Provisioning:Sqs:QueueUrl"] = _queueUrl,
        ["Kbl:Provisioning:Sqs:ServiceUrl"] = _moto.ServiceUrl,
    };

    [Fact]
    public async Task Desired_states_travel_over_SQS_and_the_Provisioner_makes_EKS_follow_them()
    {
        using var http = new HttpClient { BaseAddress = _silo.HttpAddress };

        // EKS misbehaves on the way (the Provisioner talks to it through the fault proxy): the first create is
        // throttled, the second one's answer is lost after EKS made the group, the group takes a while to become
        // ACTIVE, and the first resize meets an update in progress and then waits for its own.
        const string create = "^/clusters/" + Cluster + "/node-groups$";
        _proxy.Fail("POST", create, 1, EksFault.Throttling);
        _proxy.Fail("POST", create, 1, EksFault.Server, afterForwarding: true);
        _proxy.ShowStatus("default", "CREATING", 4);
        _proxy.Fail("POST", "/update-config$", 1, EksFault.ResourceInUse);
        _proxy.HoldUpdates(1, 2);
        var provisioner = StartProvisioner();

        // At rest: the silo's own group, one node, created in EKS and reported back.
        await Converged(http, 1, "the default group created at one node");

        // Its liveness endpoint says the reconciler is moving.
        using (var health = await http.GetAsync(new Uri($"http://127.0.0.1:{_healthPort}/healthz")))
        {
            Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
            Assert.Contains("\"progressing\"", await health.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Load: the plan grows the group and the Provisioner resizes the node group.
        // One copy: the group may shrink back to one node (a mirrored colony keeps as many nodes as its copies).
        Assert.True((await http.PutAsync("/v1/colonies/loaded", JsonContent.Create(new { splitKeys = 1000, redundancy = new { mode = "none" } }))).IsSuccessStatusCode);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                (await http.PutAsync($"/v1/colonies/loaded/records/k{i % 500}", new StringContent("v"))).EnsureSuccessStatusCode();
            }
        });
        var (grown, _) = await Converged(http, null, "the group grown under load", size => size > 1);

        // The Provisioner crashes; meanwhile a stale and a repeated desired state reach the queue. The restarted one
        // reads the current plan, ignores the stale state, and makes no second node group.
        await provisioner.KillAsync();
        var plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        var current = ProvisioningJson.Deserialize<DesiredState>(plan.GetProperty("desired").GetRawText());
        await _sqs.SendMessageAsync(_queueUrl, ProvisioningJson.Serialize(current with { Generation = 1, Groups = [current.Groups[0] with { Desired = 3, Max = 3 }] }));
        await _sqs.SendMessageAsync(_queueUrl, ProvisioningJson.Serialize(current));
        provisioner = StartProvisioner();

        // The end of the load: after the cool-down the group shrinks back to one node.
        await stop.CancelAsync();
        await writer;
        var (size, nodegroup) = await Converged(http, 1, "the group back at one node after the load");
        Assert.Equal(1, size);
        Assert.Equal(["default"], await _eks.ListNodegroups(CancellationToken.None));
        var creates = _proxy.Requests.Where(r => r.Method == "POST" && r.Path == $"/clusters/{Cluster}/node-groups").ToList();
        Assert.Equal(1, creates.Count(r => r.UpstreamStatus == 200)); // one node group made, whatever the faults
        Assert.Contains(creates, r => r.InjectedError == "ThrottlingException");
        Assert.Contains(_proxy.Requests, r => r.Path.EndsWith("/update-config", StringComparison.Ordinal) && r.InjectedError == "ResourceInUseException");
        Assert.Equal("m6i.large", Assert.Single(nodegroup.InstanceTypes!));
        Assert.Equal("kbl", nodegroup.Tags!["kbl.io/managed-by"]);
        Assert.Equal("default", nodegroup.Labels!["kbl.io/node-group"]);
        Assert.True(grown > 1);
        Assert.DoesNotContain("desired state generation 1 received", provisioner.Output, StringComparison.Ordinal); // the stale one
    }

    /// <summary>
    /// Waits until EKS, the plan and the observed state agree: the node group's desired size is the plan's, the
    /// Provisioner reported that generation without error, and (when given) the size is <paramref name="expected"/>.
    /// </summary>
    private async Task<(int Size, EksNodegroup Nodegroup)> Converged(HttpClient http, int? expected, string what, Func<int, bool>? also = null)
    {
        EksNodegroup? nodegroup = null;
        var plan = await Eventually.Until(
            async () =>
            {
                nodegroup = await _eks.DescribeNodegroup("default", CancellationToken.None);
                return await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
            },
            p =>
            {
                if (nodegroup?.ScalingConfig is not { DesiredSize: var size } || p.GetProperty("desired").GetProperty("groups")[0].GetProperty("desired").GetInt32() != size ||
                    !p.TryGetProperty("observed", out var observed) || observed.TryGetProperty("error", out _) ||
                    observed.GetProperty("generation").GetInt64() != p.GetProperty("desired").GetProperty("generation").GetInt64())
                {
                    return false;
                }

                return (expected is null || size == expected) && (also is null || also(size));
            },
            TimeSpan.FromSeconds(90), $"{what} (provisioner output: {string.Join(" | ", _provisioners.Select(p => p.Output[^Math.Min(2000, p.Output.Length)..]))})");
        Assert.Equal("ACTIVE", plan.GetProperty("observed").GetProperty("groups")[0].GetProperty("status").GetString());
        return (nodegroup!.ScalingConfig!.DesiredSize, nodegroup);
    }

    private ProvisionerProcess StartProvisioner()
    {
        var settings = new Dictionary<string, string>(Queue)
        {
            ["Kbl:Provisioning:Provider"] = "eks",
            ["Kbl:Provisioning:ClusterUrl"] = _silo.HttpAddress.ToString(),
            ["Kbl:Provisioning:ResyncInterval"] = "00:00:01",
            ["Kbl:Provisioning:Eks:ClusterName"] = Cluster,
            ["Kbl:Provisioning:Eks:ServiceUrl"] = _proxy.Url,
            ["Kbl:Provisioning:Eks:Ec2ServiceUrl"] = _moto.ServiceUrl,
            ["Kbl:Provisioning:Eks:NodeRole"] = EksMoto.NodeRole,
            ["Kbl:Provisioning:Eks:PollInterval"] = "00:00:00.100",
            ["Kbl:Provisioning:Eks:Backoff"] = "00:00:00.050",
            ["Kbl:Provisioning:Kubernetes:Enabled"] = "false",
            // No silo StatefulSets here (no Kubernetes API), so no zonal volumes: one node group across the zones.
            // Per-zone groups and the targeted scale-in are tested on the provider (EksScaleInTests).
            ["Kbl:Provisioning:Eks:ZonalNodeGroups"] = "false",
            ["Kbl:Provisioning:HealthPort"] = _healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var environment = new Dictionary<string, string>
        {
            ["AWS_ACCESS_KEY_ID"] = "kbl-test",
            ["AWS_SECRET_ACCESS_KEY"] = "kbl-test-secret",
            ["AWS_REGION"] = "us-east-1",
        };
        var provisioner = new ProvisionerProcess(settings, environment);
        _provisioners.Add(provisioner);
        provisioner.Start();
        return provisioner;
    }

    private EksOptions Eks() => new()
    {
        ClusterName = Cluster,
        Region = "us-east-1",
        ServiceUrl = _moto.ServiceUrl,
        Ec2ServiceUrl = _moto.ServiceUrl,
        NodeRole = EksMoto.NodeRole,
        PollInterval = TimeSpan.FromMilliseconds(100),
    };
}

/// <summary>The Provisioner process refuses bad configuration with one line and exit code 2, before it touches anything.</summary>
[Trait("Category", Category.Process)]
public sealed class ProvisionerSettingsTests
{
    [Theory]
    [InlineData("", "Kbl:Provisioning:Provider 'local' is not for the Provisioner process")]
    [InlineData("--Kbl:Provisioning:Provider=eks --Kbl:Provisioning:ClusterUrl=http://kbl:8080", "Kbl:Provisioning:Eks:ClusterName")]
    [InlineData("--Kbl:Provisioning:Provider=dry-run", "Kbl:Provisioning:ClusterUrl")]
    [InlineData("--Kbl:Provisioning:Provider=dry-run --Kbl:Provisioning:ClusterUrl=http://kbl:8080 --Kbl:Provisioning:Queue=sqs", "Kbl:Provisioning:Sqs:QueueUrl")]
    [InlineData("--Kbl:Provisioning:Provider=eks --Kbl:Provisioning:ClusterUrl=http://kbl:8080 --Kbl:Provisioning:Eks:ClusterName=kbl --Kbl:Provisioning:Eks:NodeRole=kbl-node", "Kbl:Provisioning:Eks:NodeRole")]
    [InlineData("--Kbl:Provisioning:Provider=dry-run --Kbl:Provisioning:ClusterUrl=http://kbl:8080 --Kbl:Provisioning:HealthPort=70000", "Kbl:Provisioning:HealthPort")]
    [InlineData("--Kbl:Provisioning:Provider=dry-run --Kbl:Provisioning:ClusterUrl=http://kbl:8080 --Kbl:Provisioning:StallTimeout=00:00:10", "Kbl:Provisioning:StallTimeout")]
    [InlineData("--Kbl:Provisioning:Provider=dry-run --Kbl:Provisioning:ClusterUrl=http://kbl:8080 --Kbl:Provisioning:Eks:ZonalNodeGroups=maybe", "Kbl:Provisioning:Eks:ZonalNodeGroups")]
    [InlineData("--Kbl:Provisioning:Provider=dry-run --Kbl:Provisioning:ClusterUrl=http://kbl:8080 --Kbl:Provisioning:Eks:AutoScalingServiceUrl=ftp://autoscaling", "Kbl:Provisioning:Eks:AutoScalingServiceUrl")]
    public async Task A_bad_setting_stops_the_Provisioner_with_one_line(string arguments, string named)
    {
        var (exitCode, stderr) = await ProvisionerProcess.RunToExit(arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(2, exitCode);
        Assert.Contains(named, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }
}
