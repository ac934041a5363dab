using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Eks;
using Kbl.NodeGroups.Kubernetes;
using Kbl.NodeGroups.Queue;

namespace Kbl.Tests.Deployment;

/// <summary>
/// The Provisioner's manifests (k8s/base/provisioner, the example overlay's patches) and IAM policy
/// (k8s/iam/provisioner-policy.json), checked against the Kubernetes models, the overlay's silos and Kbl.NodeGroups'
/// own code: its settings, the Kubernetes calls of <see cref="SiloStatefulSets"/> and the SQS calls of
/// <see cref="SqsDeploymentQueue"/>.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed partial class ProvisionerManifestTests
{
    private const string Name = "kbl-provisioner";
    private const string Assembly = "Kbl.Provisioner.dll";
    private const string RoleArnAnnotation = "eks.amazonaws.com/role-arn";

    /// <summary>Settings the Provisioner reads beyond <see cref="ProvisioningOptions"/>: its own (src/Provisioner) and the silo's token.</summary>
    private static readonly string[] OtherSettings = ["Kbl:Provisioning:ClusterUrl", "Kbl:Auth:Token"];

    private static IReadOnlyList<object> Example => Manifests.ExampleResources;

    private static V1Deployment Provisioner => Example.Named<V1Deployment>(Name);

    private static V1Container Container => Assert.Single(Provisioner.Spec.Template.Spec.Containers);

    private static IReadOnlyList<V1StatefulSet> Silos => Example.Of<V1StatefulSet>();

    [Fact]
    public void The_provisioner_is_one_deployment_running_its_assembly_from_the_silo_image()
    {
        var deployment = Assert.Single(Example.Of<V1Deployment>());
        Assert.Equal(Name, deployment.Metadata.Name);
        Assert.Equal(1, deployment.Spec.Replicas);
        Assert.Equal("Recreate", deployment.Spec.Strategy.Type);
        Assert.True(deployment.Spec.Selector.Matches(deployment.Spec.Template.Metadata.Labels), "the Deployment's selector does not match its pods");

        // The image's ENTRYPOINT runs the silo: `command` replaces it (`args` would only be appended to it).
        Assert.All(Silos, set => Assert.Equal(set.Silo().Image, Container.Image));
        Assert.Equal(["dotnet", $"/app/provisioner/{Assembly}"], Container.Command);
        Assert.Null(Container.Args);
        var project = Directory.EnumerateFiles(Manifests.PathOf("src"), "Provisioner.csproj", SearchOption.AllDirectories).SingleOrDefault();
        if (project is not null)
        {
            Assert.Contains($"<AssemblyName>{Path.GetFileNameWithoutExtension(Assembly)}</AssemblyName>", File.ReadAllText(project), StringComparison.Ordinal);
        }

        Assert.Equal(1654L, deployment.Spec.Template.Spec.SecurityContext.RunAsUser);
        Assert.True(Container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.Contains(Container.VolumeMounts, m => m.MountPath == "/tmp");
    }

    [Fact]
    public void No_service_budget_or_silo_selector_takes_the_provisioner_for_a_silo()
    {
        var labels = Provisioner.Spec.Template.Metadata.Labels;
        Assert.All(Example.Of<V1Service>(), service => Assert.False(service.Spec.Selector.Selects(labels), $"Service {service.Metadata.Name} would send traffic to the Provisioner"));
        Assert.All(Example.Of<V1PodDisruptionBudget>(), budget => Assert.False(budget.Spec.Selector.Matches(labels), $"PodDisruptionBudget {budget.Metadata.Name} counts the Provisioner"));
        foreach (var set in Silos)
        {
            Assert.False(set.Spec.Selector.Matches(labels), $"{set.Metadata.Name} selects the Provisioner's pod");
            Assert.False(Provisioner.Spec.Selector.Matches(set.Spec.Template.Metadata.Labels), $"the Provisioner's selector matches the pods of {set.Metadata.Name}");
        }

        // It scales Kbl's node groups in and deletes them: it must not run on one.
        var groups = Silos.Select(s => s.Spec.Template.Spec.NodeSelector[SiloStatefulSets.EksNodeGroupLabel]).ToList();
        var own = Label(Provisioner.Spec.Template.Spec.NodeSelector, SiloStatefulSets.EksNodeGroupLabel);
        Assert.False(string.IsNullOrEmpty(own), "the Provisioner is not pinned to a node group of its own");
        Assert.DoesNotContain(own, groups);
    }

    [Fact]
    public void Every_provisioner_variable_is_a_setting_it_reads_with_a_valid_value()
    {
        var keys = ProvisioningKeys();
        Assert.Contains("Kbl:Provisioning:Sqs:QueueUrl", keys.Keys);
        var env = Container.Env;
        Assert.Equal(env.Count, env.Select(e => e.Name).Distinct().Count());
        Assert.Null(Container.EnvFrom);
        foreach (var variable in env)
        {
            var key = variable.Name.Replace("__", ":", StringComparison.Ordinal);
            if (OtherSettings.Contains(key))
            {
                continue;
            }

            Assert.True(keys.TryGetValue(key, out var setting), $"{variable.Name} is no setting of ProvisioningOptions ({key})");
            Assert.True(variable.ValueFrom is not null || setting!.Accepts(variable.Value ?? ""), $"{variable.Name}='{variable.Value}' is not a valid {setting!.Type}");
        }

        Assert.Equal("eks", Env("Kbl__Provisioning__Provider"));
        Assert.Equal("sqs", Env("Kbl__Provisioning__Queue"));
        Assert.Equal("true", Env("Kbl__Provisioning__Kubernetes__Enabled"));
        Assert.Equal("metadata.namespace", env.Single(e => e.Name == "Kbl__Provisioning__Kubernetes__Namespace").ValueFrom.FieldRef.FieldPath);
        Assert.Matches("^arn:aws:iam::[0-9]{12}:role/", Env("Kbl__Provisioning__Eks__NodeRole") ?? "");
        Assert.False(string.IsNullOrEmpty(Env("Kbl__Provisioning__Eks__ClusterName")));
        Assert.Matches(@"^https://sqs\.", Env("Kbl__Provisioning__Sqs__QueueUrl") ?? "");
    }

    [Fact]
    public void Every_silo_statefulset_and_the_template_are_named_as_the_provisioner_names_its_own()
    {
        var template = Example.Named<V1StatefulSet>(Env("Kbl__Provisioning__Kubernetes__TemplateStatefulSet")!);

        // Named as the Provisioner names the StatefulSets it creates (SiloGroup: kbl-{group}-{zone} on the EKS group
        // {group}-{zone}), so the overlay's groups are sized in place, never copied beside themselves.
        foreach (var set in Silos.Append(template))
        {
            var group = new SiloGroup(set.Silo().Env("Kbl__NodeGroup")!, set.Silo().Env("Kbl__Zone"));
            Assert.Equal(group.StatefulSetName, set.Metadata.Name);
            Assert.Equal(group.EksNodeGroup, set.Spec.Template.Spec.NodeSelector[SiloStatefulSets.EksNodeGroupLabel]);
            Assert.Equal(group.NodeGroup, set.Spec.Selector.MatchLabels[SiloStatefulSets.NodeGroupLabel]);
            Assert.Equal(group.Zone, set.Spec.Selector.MatchLabels[SiloStatefulSets.ZoneLabel]);
        }

        // A copy for another group and zone is that group's and zone's only: its selector takes none of the template's pods.
        var copy = SiloStatefulSets.FromTemplate(template, new SiloGroup("warm", "us-east-1b"), 2);
        Assert.Equal("kbl-warm-us-east-1b", copy.Metadata.Name);
        Assert.Equal(("warm", "us-east-1b"), (copy.Silo().Env("Kbl__NodeGroup"), copy.Silo().Env("Kbl__Zone")));
        Assert.Equal("us-east-1b", copy.Spec.Template.Spec.NodeSelector[SiloStatefulSets.TopologyZoneLabel]);
        Assert.All(Silos, set => Assert.False(copy.Spec.Selector.Matches(set.Spec.Template.Metadata.Labels), $"the copy selects the pods of {set.Metadata.Name}"));
    }

    [Fact]
    public void The_provisioner_is_restarted_when_its_reconciler_stops_making_progress()
    {
        var probe = Container.LivenessProbe;
        Assert.True(probe?.HttpGet is not null, "the Provisioner has no HTTP liveness probe");
        Assert.Equal(HealthEndpoint.Path, probe!.HttpGet.Path);
        var port = Container.Ports.Single(p => p.Name == probe.HttpGet.Port.Value).ContainerPort;
        Assert.Equal(port.ToString(CultureInfo.InvariantCulture), Env("Kbl__Provisioning__HealthPort"));

        // The probe gives up only well after the stall timeout says the reconciler is stuck, never during a slow wait.
        var stall = TimeSpan.Parse(Env("Kbl__Provisioning__StallTimeout")!, CultureInfo.InvariantCulture);
        Assert.True(stall > new EksOptions().PollInterval * 2, $"StallTimeout {stall} is shorter than two polls of a wait");
        Assert.True(probe.PeriodSeconds * probe.FailureThreshold < stall.TotalSeconds, "the probe restarts the Provisioner before StallTimeout could pass");
    }

    [Fact]
    public void The_provisioner_reports_to_the_gateway_service_with_the_silos_token()
    {
        var url = new Uri(Env("Kbl__Provisioning__ClusterUrl")!);
        Assert.Equal("http", url.Scheme);
        var service = Example.Named<V1Service>(url.Host);
        var port = service.Spec.Ports.SingleOrDefault(p => p.Port == url.Port);
        Assert.True(port is not null, $"Service {service.Metadata.Name} has no port {url.Port}");
        Assert.Equal("http", port!.TargetPort.Value);
        Assert.All(Silos, set => Assert.True(service.Spec.Selector.Selects(set.Spec.Template.Metadata.Labels)));

        var token = Container.Env.Single(e => e.Name == "Kbl__Auth__Token");
        Assert.Null(token.Value);
        Assert.All(Silos, set =>
        {
            var silo = set.Silo().Env.Single(e => e.Name == "Kbl__Auth__Token").ValueFrom.SecretKeyRef;
            Assert.Equal((silo.Name, silo.Key), (token.ValueFrom.SecretKeyRef.Name, token.ValueFrom.SecretKeyRef.Key));
        });
    }

    [Fact]
    public void The_provisioner_has_its_own_irsa_service_account()
    {
        var pod = Provisioner.Spec.Template.Spec;
        Assert.Equal(Name, pod.ServiceAccountName);
        Assert.True(pod.AutomountServiceAccountToken != false, "the Provisioner does not mount its token: it cannot reach the Kubernetes API");
        var account = Example.Named<V1ServiceAccount>(Name);
        Assert.True(account.AutomountServiceAccountToken != false);
        Assert.All(Silos, set => Assert.NotEqual(Name, set.Spec.Template.Spec.ServiceAccountName));

        var roleArn = Label(account.Metadata.Annotations, RoleArnAnnotation);
        Assert.Matches("^arn:aws:iam::[0-9]{12}:role/kbl-provisioner$", roleArn ?? "");
        var siloArn = Example.Named<V1ServiceAccount>("kbl-silo").Metadata.Annotations[RoleArnAnnotation];
        Assert.NotEqual(siloArn, roleArn);
        Assert.Equal(Account(siloArn), Account(roleArn!));
        Assert.Equal(Account(roleArn!), Account(Env("Kbl__Provisioning__Eks__NodeRole")!));
    }

    [Fact]
    public void Provisioner_rbac_is_namespaced_but_for_cordoning_nodes_and_grants_exactly_what_its_code_calls()
    {
        var role = Example.Named<V1Role>(Name);
        Assert.Equal(Provisioner.Metadata.NamespaceProperty, role.Metadata.NamespaceProperty);
        var granted = Grants(role.Rules);
        string[] expected =
        [
            "apps/statefulsets:get", "apps/statefulsets:list", "apps/statefulsets:create", "apps/statefulsets:patch",
            "apps/statefulsets:update", "apps/statefulsets:delete",
            "apps/statefulsets/scale:get", "apps/statefulsets/scale:patch", "apps/statefulsets/scale:update",
            "/pods:get",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), granted.Order(StringComparer.Ordinal));
        Assert.All(role.Rules, rule => Assert.Null(rule.ResourceNames));

        // Nodes are cluster-wide: the one ClusterRole, for the targeted scale-in's cordon, reads and patches nodes only.
        var nodes = Assert.Single(Example.Of<V1ClusterRole>());
        Assert.Equal(["/nodes:get", "/nodes:patch"], Grants(nodes.Rules).Order(StringComparer.Ordinal));
        var nodesBinding = Assert.Single(Example.Of<V1ClusterRoleBinding>());
        Assert.Equal(("ClusterRole", nodes.Metadata.Name), (nodesBinding.RoleRef.Kind, nodesBinding.RoleRef.Name));
        Assert.Equal(("ServiceAccount", Name, role.Metadata.NamespaceProperty), Assert.Single(nodesBinding.Subjects) is var n ? (n.Kind, n.Name, n.NamespaceProperty) : default);

        // Every Kubernetes call of the code is granted, and every grant is called (update: the scale subresource's PUT).
        var calls = KubernetesCalls();
        Assert.Contains("apps/statefulsets/scale:patch", calls);
        Assert.Contains("apps/statefulsets:create", calls);
        Assert.Contains("/nodes:patch", calls);
        var all = granted.Concat(Grants(nodes.Rules)).ToHashSet(StringComparer.Ordinal);
        Assert.Subset(all, calls);

        var binding = Example.Named<V1RoleBinding>(Name);
        Assert.Equal(("rbac.authorization.k8s.io", "Role", Name), (binding.RoleRef.ApiGroup, binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", Name, role.Metadata.NamespaceProperty), (subject.Kind, subject.Name, subject.NamespaceProperty));
        Assert.DoesNotContain(Example.Of<V1RoleBinding>().Where(b => b.RoleRef.Name != Name), b => b.Subjects.Any(s => s.Name == Name));
    }

    [Fact]
    public void The_provisioner_policy_allows_what_its_code_calls_on_this_cluster_only_and_changes_only_kbl_tagged_groups()
    {
        var policy = Policy("k8s/iam/provisioner-policy.json");
        var needed = CodeCalls.Provisioner();
        Assert.Contains("eks:DescribeCluster", needed);
        Assert.Contains("autoscaling:TerminateInstanceInAutoScalingGroup", needed);
        Assert.Equal(needed.Order(StringComparer.Ordinal), policy.SelectMany(s => s.Actions).Distinct().Order(StringComparer.Ordinal));

        var (cluster, region) = (Env("Kbl__Provisioning__Eks__ClusterName")!, Env("Kbl__Provisioning__Eks__Region")!);
        var nodeRole = Env("Kbl__Provisioning__Eks__NodeRole")!;
        var account = Account(nodeRole);
        var rules = ProvisionerRules(region, account, cluster, nodeRole, QueueArn(Env("Kbl__Provisioning__Sqs__QueueUrl")!));
        foreach (var statement in policy)
        {
            foreach (var action in statement.Actions)
            {
                Assert.True(rules.TryGetValue(action, out var rule), $"{statement.Sid}: {action} has no rule");
                Assert.All(statement.Resources, r => Assert.True(rule!.Resources.Contains(r), $"{statement.Sid}: {action} on {r}, not on {string.Join(" or ", rule!.Resources)}"));
                Assert.True(
                    rule!.Condition is null ? statement.Condition is null : JsonNode.DeepEquals(JsonNode.Parse(rule.Condition), statement.Condition),
                    $"{statement.Sid}: {action} has the condition {statement.Condition?.ToJsonString() ?? "none"}, expected {rule.Condition ?? "none"}");
            }
        }

        // Each action is allowed for every resource its rule names (GetRole: the node role and the service-linked role).
        foreach (var (action, rule) in rules.Where(r => needed.Contains(r.Key)))
        {
            Assert.Equal(rule.Resources.Order(StringComparer.Ordinal), policy.Where(s => s.Actions.Contains(action)).SelectMany(s => s.Resources).Distinct().Order(StringComparer.Ordinal));
        }
    }

    /// <summary>
    /// For each action the Provisioner's role allows: the resources it may name and the condition it must carry. The
    /// kbl.io/managed-by rule lives here as well as in the code: a node group is created and tagged only with the tag
    /// (<c>aws:RequestTag</c>), changed or deleted only when it has it (<c>aws:ResourceTag</c>), so a bug cannot touch the
    /// system group; instances are terminated only in the cluster's own Auto Scaling groups.
    /// </summary>
    internal static Dictionary<string, (string[] Resources, string? Condition)> ProvisionerRules(string region, string account, string cluster, string nodeRole, string queue)
    {
        var clusterArn = $"arn:aws:eks:{region}:{account}:cluster/{cluster}";
        var nodeGroups = $"arn:aws:eks:{region}:{account}:nodegroup/{cluster}/*/*";
        var serviceRole = $"arn:aws:iam::{account}:{CodeCalls.NodegroupServiceLinkedRole}";
        const string Requested = """{"StringEquals":{"aws:RequestTag/kbl.io/managed-by":"kbl"}}""";
        const string Tagged = """{"StringEquals":{"aws:ResourceTag/kbl.io/managed-by":"kbl"}}""";
        return new(StringComparer.Ordinal)
        {
            ["eks:DescribeCluster"] = ([clusterArn], null),
            ["eks:ListNodegroups"] = ([clusterArn], null),
            ["eks:CreateNodegroup"] = ([clusterArn], Requested),
            ["eks:TagResource"] = ([nodeGroups], Requested),
            ["eks:DescribeNodegroup"] = ([nodeGroups], null),
            ["eks:DescribeUpdate"] = ([nodeGroups], null),
            ["eks:UpdateNodegroupConfig"] = ([nodeGroups], Tagged),
            ["eks:DeleteNodegroup"] = ([nodeGroups], Tagged),
            ["ec2:DescribeSubnets"] = (["*"], null), // EC2 Describe* calls take no resource-level permissions
            ["ec2:DescribeAvailabilityZones"] = (["*"], null),
            ["ec2:DescribeRouteTables"] = (["*"], null),
            ["autoscaling:DescribeAutoScalingGroups"] = (["*"], null),
            ["autoscaling:TerminateInstanceInAutoScalingGroup"] = (["*"], $$$"""{"StringEquals":{"aws:ResourceTag/k8s.io/cluster-autoscaler/{{{cluster}}}":"owned"}}"""),
            ["iam:PassRole"] = ([nodeRole], """{"StringEquals":{"iam:PassedToService":"eks.amazonaws.com"}}"""),
            ["iam:GetRole"] = ([nodeRole, serviceRole], null),
            ["iam:ListAttachedRolePolicies"] = ([nodeRole], null),
            ["iam:CreateServiceLinkedRole"] = ([serviceRole], """{"StringEquals":{"iam:AWSServiceName":"eks-nodegroup.amazonaws.com"}}"""),
            ["sqs:ReceiveMessage"] = ([queue], null),
            ["sqs:DeleteMessage"] = ([queue], null),
            ["sqs:GetQueueAttributes"] = ([queue], null), // the check at start that the queue exists
        };
    }

    [Fact]
    public void The_queue_calls_of_the_code_are_split_between_the_silo_and_provisioner_policies()
    {
        var calls = CodeCalls.Sqs();
        Assert.Equal(["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"], calls.Order(StringComparer.Ordinal));
        var queue = QueueArn(Env("Kbl__Provisioning__Sqs__QueueUrl")!);

        var silo = Policy("k8s/iam/silo-policy.json").Where(s => s.Actions.Any(a => a.StartsWith("sqs:", StringComparison.Ordinal))).ToList();
        var siloStatement = Assert.Single(silo);
        Assert.Equal(["sqs:SendMessage", "sqs:GetQueueAttributes"], siloStatement.Actions);
        Assert.Equal([queue], siloStatement.Resources);

        var provisioner = Policy("k8s/iam/provisioner-policy.json").Where(s => s.Actions.Any(a => a.StartsWith("sqs:", StringComparison.Ordinal))).SelectMany(s => s.Actions).ToHashSet(StringComparer.Ordinal);
        Assert.Subset(provisioner, calls.Where(c => c != "sqs:SendMessage").ToHashSet(StringComparer.Ordinal));
        Assert.DoesNotContain("sqs:SendMessage", provisioner);
    }

    /// <summary>Every key of <see cref="ProvisioningOptions"/> (<c>Kbl:Provisioning:Sqs:QueueUrl</c>), nested option classes included.</summary>
    private static Dictionary<string, SiloSettingKey> ProvisioningKeys()
    {
        var keys = new Dictionary<string, SiloSettingKey>(StringComparer.OrdinalIgnoreCase);
        Add(ProvisioningOptions.Section, typeof(ProvisioningOptions));
        return keys;

        void Add(string section, Type type)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true }))
            {
                var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                var path = $"{section}:{property.Name}";
                if (propertyType.IsClass && propertyType != typeof(string) && !propertyType.IsArray && propertyType.Namespace == typeof(ProvisioningOptions).Namespace)
                {
                    Add(path, propertyType);
                }
                else
                {
                    keys[path] = new SiloSettingKey(path, propertyType.Name, null, propertyType.IsEnum ? propertyType : null);
                }
            }
        }
    }

    /// <summary>The Kubernetes API calls of SiloStatefulSets as RBAC sees them (<c>apps/statefulsets/scale:patch</c>, <c>/nodes:patch</c>).</summary>
    private static HashSet<string> KubernetesCalls()
    {
        var source = File.ReadAllText(Manifests.PathOf("src/NodeGroups/Kubernetes/SiloStatefulSets.cs"));
        var core = CoreCall().Matches(source).Select(m => (m.Groups["kind"].Value == "Node" ? "/nodes" : "/pods") + ":" + (m.Groups["verb"].Value == "Read" ? "get" : "patch"));
        return KubernetesCall().Matches(source).Select(m =>
        {
            var verb = m.Groups["verb"].Value switch
            {
                "Read" => "get",
                "List" => "list",
                "Create" => "create",
                "Patch" => "patch",
                "Replace" => "update",
                "Delete" => "delete",
                var other => throw new InvalidOperationException($"an unknown Kubernetes call {other}"),
            };
            return $"apps/statefulsets{(m.Groups["scale"].Success ? "/scale" : "")}:{verb}";
        }).Concat(core).ToHashSet(StringComparer.Ordinal);
    }

    private static HashSet<string> Grants(IEnumerable<V1PolicyRule> rules) =>
        rules.SelectMany(rule => from apiGroup in rule.ApiGroups from resource in rule.Resources from verb in rule.Verbs select $"{apiGroup}/{resource}:{verb}")
            .ToHashSet(StringComparer.Ordinal);

    private static List<Statement> Policy(string path)
    {
        var policy = JsonNode.Parse(File.ReadAllText(Manifests.PathOf(path)))!;
        Assert.Equal("2012-10-17", (string?)policy["Version"]);
        var statements = policy["Statement"]!.AsArray().Select(s => s!.AsObject()).Select(s =>
        {
            Assert.Equal("Allow", (string?)s["Effect"]);
            Assert.Subset(new HashSet<string>(["Action", "Condition", "Effect", "Resource", "Sid"], StringComparer.Ordinal), s.Select(p => p.Key).ToHashSet(StringComparer.Ordinal));
            var statement = new Statement((string)s["Sid"]!, Strings(s["Action"]), Strings(s["Resource"]), s["Condition"] as JsonObject);
            Assert.DoesNotContain(statement.Actions, a => a.Contains('*', StringComparison.Ordinal));
            return statement;
        }).ToList();
        Assert.Equal(statements.Count, statements.Select(s => s.Sid).Distinct().Count());
        return statements;
    }

    private static string? Env(string name) => Container.Env(name);

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private static string Account(string arn) => arn.Split(':')[4];

    /// <summary><c>https://sqs.REGION.amazonaws.com/ACCOUNT/NAME</c> → <c>arn:aws:sqs:REGION:ACCOUNT:NAME</c>.</summary>
    private static string QueueArn(string queueUrl)
    {
        var match = QueueUrl().Match(queueUrl);
        Assert.True(match.Success, $"{queueUrl} is not an SQS queue URL");
        return string.Create(CultureInfo.InvariantCulture, $"arn:aws:sqs:{match.Groups["region"].Value}:{match.Groups["account"].Value}:{match.Groups["name"].Value}");
    }

    private static string[] Strings(JsonNode? node) => node switch
    {
        JsonArray array => [.. array.Select(n => (string)n!)],
        JsonValue value => [(string)value!],
        _ => throw new InvalidDataException($"expected a string or a list of strings, got {node?.ToJsonString()}"),
    };

    private sealed record Statement(string Sid, string[] Actions, string[] Resources, JsonObject? Condition);

    [GeneratedRegex(@"AppsV1\.(?<verb>Read|List|Create|Patch|Replace|Delete)NamespacedStatefulSet(?<scale>Scale)?Async\(")]
    private static partial Regex KubernetesCall();

    [GeneratedRegex(@"CoreV1\.(?<verb>Read|Patch)(?<kind>NamespacedPod|Node)Async\(")]
    private static partial Regex CoreCall();

    [GeneratedRegex(@"^https://sqs\.(?<region>[a-z0-9-]+)\.amazonaws\.com/(?<account>[0-9]{12})/(?<name>[A-Za-z0-9_-]{1,80})$")]
    private static partial Regex QueueUrl();
}
