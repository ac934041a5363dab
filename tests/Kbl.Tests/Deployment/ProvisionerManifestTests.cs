using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Kubernetes;
using Kbl.NodeGroups.Queue;

namespace Kbl.Tests.Deployment;

/// <summary>
/// The Provisioner's manifests (k8s/base/provisioner, the example overlay's patches) and IAM policy
/// (k8s/iam/provisioner-policy.json), checked against the Kubernetes models, the overlay's silos and Kbl.NodeGroups'
/// own code: its settings, the Kubernetes calls of <see cref="SiloStatefulSets"/> and the SQS calls of
/// <see cref="SqsDeploymentQueue"/>.
/// </summary>
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
    public void The_template_statefulset_is_a_silo_group_that_takes_its_zone_from_the_pod()
    {
        var template = Example.Named<V1StatefulSet>(Env("Kbl__Provisioning__Kubernetes__TemplateStatefulSet")!);
        var group = template.Silo().Env("Kbl__NodeGroup")!;

        // Named as the Provisioner names the StatefulSets it creates, so the group is scaled in place, never copied.
        Assert.Equal(SiloStatefulSets.StatefulSetName(group), template.Metadata.Name);
        Assert.All(Silos, set => Assert.Equal(SiloStatefulSets.StatefulSetName(set.Silo().Env("Kbl__NodeGroup")!), set.Metadata.Name));
        Assert.NotNull(template.Silo().Env?.Single(e => e.Name == "Kbl__Zone").ValueFrom);
        Assert.False(template.Spec.Template.Spec.NodeSelector.ContainsKey("topology.kubernetes.io/zone"), "a copy of a zone-pinned template would be pinned to that zone");
        Assert.Equal(group, template.Spec.Selector.MatchLabels[SiloStatefulSets.NodeGroupLabel]);
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
    public void Provisioner_rbac_is_namespaced_and_covers_exactly_statefulsets_and_their_scale()
    {
        Assert.Empty(Example.Of<V1ClusterRole>());
        Assert.Empty(Example.Of<V1ClusterRoleBinding>());
        var role = Example.Named<V1Role>(Name);
        Assert.Equal(Provisioner.Metadata.NamespaceProperty, role.Metadata.NamespaceProperty);
        var granted = role.Rules
            .SelectMany(rule => from apiGroup in rule.ApiGroups from resource in rule.Resources from verb in rule.Verbs select $"{apiGroup}/{resource}:{verb}")
            .ToHashSet(StringComparer.Ordinal);
        string[] expected =
        [
            "apps/statefulsets:get", "apps/statefulsets:list", "apps/statefulsets:create", "apps/statefulsets:patch",
            "apps/statefulsets:update", "apps/statefulsets:delete",
            "apps/statefulsets/scale:get", "apps/statefulsets/scale:patch", "apps/statefulsets/scale:update",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), granted.Order(StringComparer.Ordinal));
        Assert.All(role.Rules, rule => Assert.Null(rule.ResourceNames));

        // Every Kubernetes call of the code is granted.
        var calls = KubernetesCalls();
        Assert.Contains("apps/statefulsets/scale:patch", calls);
        Assert.Contains("apps/statefulsets:create", calls);
        Assert.Subset(granted, calls);

        var binding = Example.Named<V1RoleBinding>(Name);
        Assert.Equal(("rbac.authorization.k8s.io", "Role", Name), (binding.RoleRef.ApiGroup, binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal(("ServiceAccount", Name, role.Metadata.NamespaceProperty), (subject.Kind, subject.Name, subject.NamespaceProperty));
        Assert.DoesNotContain(Example.Of<V1RoleBinding>().Where(b => b.RoleRef.Name != Name), b => b.Subjects.Any(s => s.Name == Name));
    }

    [Fact]
    public void The_provisioner_policy_allows_the_node_group_zone_pass_role_and_queue_actions_on_this_cluster_only()
    {
        var policy = Policy("k8s/iam/provisioner-policy.json");
        string[] expected =
        [
            "eks:CreateNodegroup", "eks:DescribeNodegroup", "eks:ListNodegroups", "eks:UpdateNodegroupConfig",
            "eks:DeleteNodegroup", "eks:DescribeUpdate", "eks:TagResource",
            "ec2:DescribeSubnets", "ec2:DescribeAvailabilityZones",
            "iam:PassRole",
            "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), policy.SelectMany(s => s.Actions).Order(StringComparer.Ordinal));

        var (cluster, region) = (Env("Kbl__Provisioning__Eks__ClusterName")!, Env("Kbl__Provisioning__Eks__Region")!);
        var account = Account(Env("Kbl__Provisioning__Eks__NodeRole")!);
        var clusterArn = $"arn:aws:eks:{region}:{account}:cluster/{cluster}";
        var nodeGroupArns = $"arn:aws:eks:{region}:{account}:nodegroup/{cluster}/*/*";
        foreach (var statement in policy)
        {
            foreach (var action in statement.Actions)
            {
                string[] allowed = action.Split(':')[0] switch
                {
                    "eks" => [clusterArn, nodeGroupArns],
                    "ec2" => ["*"], // Describe* calls take no resource-level permissions.
                    "iam" => [Env("Kbl__Provisioning__Eks__NodeRole")!],
                    "sqs" => [QueueArn(Env("Kbl__Provisioning__Sqs__QueueUrl")!)],
                    _ => Array.Empty<string>(),
                };
                Assert.All(statement.Resources, r => Assert.True(allowed.Contains(r), $"{statement.Sid}: {action} on {r}, not on this cluster's {string.Join(" or ", allowed)}"));
            }
        }

        // PassRole only of the node role, only to EKS.
        var passRole = Assert.Single(policy, s => s.Actions.Contains("iam:PassRole"));
        Assert.Equal(["iam:PassRole"], passRole.Actions);
        Assert.Equal("eks.amazonaws.com", (string?)passRole.Condition?["StringEquals"]?["iam:PassedToService"]);
        Assert.All(policy.Where(s => s != passRole), s => Assert.Null(s.Condition));
        Assert.Contains(policy, s => s.Actions.Contains("eks:CreateNodegroup") && s.Resources.SequenceEqual([clusterArn]));
        Assert.Contains(policy, s => s.Actions.Contains("eks:DeleteNodegroup") && s.Resources.SequenceEqual([nodeGroupArns]));
    }

    [Fact]
    public void The_queue_calls_of_the_code_are_split_between_the_silo_and_provisioner_policies()
    {
        var calls = SqsCalls();
        Assert.Equal(["sqs:DeleteMessage", "sqs:ReceiveMessage", "sqs:SendMessage"], calls.Order(StringComparer.Ordinal));
        var queue = QueueArn(Env("Kbl__Provisioning__Sqs__QueueUrl")!);

        var silo = Policy("k8s/iam/silo-policy.json").Where(s => s.Actions.Any(a => a.StartsWith("sqs:", StringComparison.Ordinal))).ToList();
        var siloStatement = Assert.Single(silo);
        Assert.Equal(["sqs:SendMessage"], siloStatement.Actions);
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

    /// <summary>The Kubernetes API calls of SiloStatefulSets as RBAC sees them (<c>apps/statefulsets/scale:patch</c>).</summary>
    private static HashSet<string> KubernetesCalls()
    {
        var source = File.ReadAllText(Manifests.PathOf("src/NodeGroups/Kubernetes/SiloStatefulSets.cs"));
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
        }).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>The SQS calls of SqsDeploymentQueue (<c>_client.SendMessageAsync</c> → <c>sqs:SendMessage</c>).</summary>
    private static HashSet<string> SqsCalls()
    {
        var source = File.ReadAllText(Manifests.PathOf("src/NodeGroups/Queue/SqsDeploymentQueue.cs"));
        return SqsCall().Matches(source).Select(m => $"sqs:{m.Groups["api"].Value}").ToHashSet(StringComparer.Ordinal);
    }

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

    [GeneratedRegex(@"_client\.(?<api>\w+?)Async\(")]
    private static partial Regex SqsCall();

    [GeneratedRegex(@"^https://sqs\.(?<region>[a-z0-9-]+)\.amazonaws\.com/(?<account>[0-9]{12})/(?<name>[A-Za-z0-9_-]{1,80})$")]
    private static partial Regex QueueUrl();
}
