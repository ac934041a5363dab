using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using k8s.Models;
using Kbl.Hosting;
using Kbl.NodeGroups.Kubernetes;
using Orleans.Hosting.Kubernetes;
using YamlDotNet.Core;

namespace Kbl.Tests.Deployment;

/// <summary>
/// The Kubernetes manifests (k8s/) checked against the models of the Kubernetes API and against the silo's own code:
/// what the example overlay would apply (rendered as kustomize does) must be a working Kbl cluster.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed partial class ManifestTests
{
    private const string NodeGroupLabel = "kbl/node-group";
    private const string EksNodeGroupLabel = "eks.amazonaws.com/nodegroup";
    private const string ZoneLabel = "topology.kubernetes.io/zone";
    private const string ZoneFromPodLabel = "metadata.labels['topology.kubernetes.io/zone']";

    private static IReadOnlyList<object> Example => Manifests.ExampleResources;

    private static IReadOnlyList<V1StatefulSet> Silos => Example.Of<V1StatefulSet>();

    [Fact]
    public void Every_manifest_loads_strictly_into_the_Kubernetes_models()
    {
        var files = Manifests.YamlFiles().Where(f => Path.GetFileName(f) != Kustomize.FileName).ToList();
        Assert.True(files.Count >= 10, $"only {files.Count} manifests under k8s/");
        foreach (var file in files)
        {
            var documents = Load(File.ReadAllText(file), Manifests.Relative(file));
            Assert.True(documents.Count > 0, $"{Manifests.Relative(file)} holds no resource");
        }

        // Patches, inline or not, are checked in what they render to (Every_kustomization_renders_…).
    }

    [Fact]
    public void Strict_loading_rejects_a_field_the_models_do_not_have()
    {
        const string Typo = """
            apiVersion: apps/v1
            kind: StatefulSet
            metadata:
              name: kbl-hot
            spec:
              replica: 3
            """;
        Assert.ThrowsAny<YamlException>(() => Manifests.LoadStrict(Typo));
        Assert.IsType<V1StatefulSet>(Assert.Single(Manifests.LoadStrict(Typo.Replace("replica:", "replicas:", StringComparison.Ordinal))));
    }

    [Fact]
    public void Every_kustomization_renders_and_every_manifest_is_used()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Manifests.KustomizationFiles())
        {
            var directory = Path.GetDirectoryName(file)!;
            var rendered = Manifests.Render(Manifests.Relative(directory));
            Assert.True(rendered.Count > 0, $"{Manifests.Relative(file)} renders nothing");

            var kustomization = YamlJson.Single(File.ReadAllText(file), file);
            foreach (var entry in (kustomization["resources"] as JsonArray ?? []).Select(n => (string)n!))
            {
                used.Add(Path.GetFullPath(Path.Combine(directory, entry)));
            }

            foreach (var patch in (kustomization["patches"] as JsonArray ?? []).OfType<JsonObject>())
            {
                if ((string?)patch["path"] is { } path)
                {
                    used.Add(Path.GetFullPath(Path.Combine(directory, path)));
                }
            }
        }

        var unused = Manifests.YamlFiles()
            .Where(f => Path.GetFileName(f) != Kustomize.FileName && !used.Contains(f))
            .Select(Manifests.Relative)
            .ToList();
        Assert.True(unused.Count == 0, $"manifests no kustomization uses: {string.Join(", ", unused)}");
    }

    [Fact]
    public void Each_node_group_and_zone_is_one_statefulset_pinned_to_the_nodes_of_that_group_in_that_zone()
    {
        Assert.True(Silos.Count >= 2, $"the example overlay has {Silos.Count} silo groups, expected two or more");
        var groups = new HashSet<string>(StringComparer.Ordinal);
        foreach (var set in Silos)
        {
            var name = set.Metadata.Name;
            var pod = set.Spec.Template;
            var group = set.Silo().Env("Kbl__NodeGroup");
            var zone = set.Silo().Env("Kbl__Zone");
            Assert.False(string.IsNullOrEmpty(group), $"{name} sets no literal Kbl__NodeGroup");
            Assert.False(string.IsNullOrEmpty(zone), $"{name} sets no literal Kbl__Zone: an EBS-backed group lives in one zone");

            // One EKS node group per Kbl group and zone (SiloGroup: {group}-{zone}), and the pods can only land on its nodes.
            var eksGroup = new SiloGroup(group!, zone).EksNodeGroup;
            Assert.True(pod.Spec.NodeSelector?.TryGetValue(EksNodeGroupLabel, out var selected) == true && selected == eksGroup,
                $"{name}: nodeSelector {EksNodeGroupLabel} must be '{eksGroup}' (Kbl__NodeGroup and Kbl__Zone)");
            Assert.Equal(zone, Label(pod.Spec.NodeSelector, ZoneLabel));
            Assert.Equal(group, Label(pod.Metadata.Labels, NodeGroupLabel));
            Assert.Equal(group, Label(set.Spec.Selector.MatchLabels, NodeGroupLabel));
            Assert.Equal(zone, Label(set.Spec.Selector.MatchLabels, "kbl/zone"));
            Assert.True(groups.Add(eksGroup), $"node group {group} has two StatefulSets in zone {zone}");

            // The silo's own validation: the group name, and the pod names (the silos' stable names) it will get.
            var last = $"{name}-{(set.Spec.Replicas ?? 1) - 1}";
            var check = new KblOptionsValidator().Validate(null, new KblOptions { NodeGroup = group!, SiloName = last });
            Assert.True(check.Succeeded, $"{name}: {check.FailureMessage}");
        }
    }

    [Fact]
    public void No_manifest_names_the_replicas_the_provisioner_sizes()
    {
        // kubectl apply (client-side or --server-side) resets a field the manifest names: the Provisioner owns replicas.
        foreach (var file in Manifests.YamlFiles())
        {
            foreach (var document in YamlJson.Documents(File.ReadAllText(file)).OfType<JsonObject>())
            {
                Assert.False((string?)document["kind"] == "StatefulSet" && document["spec"]?["replicas"] is not null, $"{Manifests.Relative(file)} names the replicas of a silo StatefulSet");
            }
        }

        foreach (var file in Manifests.KustomizationFiles())
        {
            foreach (var patch in InlinePatches(YamlJson.Single(File.ReadAllText(file), file)))
            {
                Assert.False((string?)patch["kind"] == "StatefulSet" && patch["spec"]?["replicas"] is not null, $"a patch in {Manifests.Relative(file)} names the replicas of a silo StatefulSet");
            }
        }

        Assert.All(Silos, set => Assert.Null(set.Spec.Replicas));
    }

    /// <summary>The patches a kustomization writes inline (<c>patches: - patch: |</c>); those in files are among the YAML files.</summary>
    private static IEnumerable<JsonObject> InlinePatches(JsonObject kustomization) =>
        (kustomization["patches"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .Select(entry => (string?)entry["patch"])
            .OfType<string>()
            .SelectMany(text => YamlJson.Documents(text).OfType<JsonObject>());

    [Fact]
    public void No_account_arn_or_region_is_written_under_k8s_but_in_the_generated_stack_file()
    {
        // The by-hand IAM documents (k8s/iam) are templates for the guide's appendix; everything else takes these from stack.env.
        var literals = new Regex(@"\b[0-9]{12}\b|arn:aws|\b(?:us|eu|ap|ca|sa|me|af)-[a-z]+-[0-9]\b(?![a-z])", RegexOptions.CultureInvariant);
        var offenders = Manifests.YamlFiles()
            .Where(f => !Manifests.Relative(f).StartsWith("k8s/iam/", StringComparison.Ordinal))
            .SelectMany(f => File.ReadAllLines(f).Select((line, i) => (File: Manifests.Relative(f), Line: i + 1, Text: line)))
            .Where(l => !l.Text.TrimStart().StartsWith('#') && literals.IsMatch(l.Text))
            .Select(l => $"{l.File}:{l.Line}: {l.Text.Trim()}")
            .ToList();
        Assert.True(offenders.Count == 0, "typed by hand instead of coming from stack.env: " + string.Join("; ", offenders));

        var generated = File.ReadAllLines(Manifests.PathOf(Manifests.ExampleOverlay + "/stack.env")).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.Contains(generated, l => l.StartsWith("QueueUrl=", StringComparison.Ordinal));
        Assert.Equal(Manifests.ExampleResources.Named<V1ServiceAccount>("kbl-silo").Metadata.Annotations["eks.amazonaws.com/role-arn"],
            generated.Single(l => l.StartsWith("SiloRoleArn=", StringComparison.Ordinal))["SiloRoleArn=".Length..]);
    }

    [Fact]
    public void Every_pod_meets_the_restricted_pod_security_standard_its_namespace_enforces()
    {
        var ns = Assert.Single(Example.Of<V1Namespace>());
        Assert.Equal("restricted", ns.Metadata.Labels["pod-security.kubernetes.io/enforce"]);
        var pods = Silos.Select(s => (s.Metadata.Name, s.Spec.Template.Spec))
            .Concat(Example.Of<V1Deployment>().Select(d => (d.Metadata.Name, d.Spec.Template.Spec)));
        foreach (var (name, pod) in pods)
        {
            // The rules of the restricted profile (Kubernetes' Pod Security Standards, restricted, latest).
            Assert.True(pod.HostNetwork != true && pod.HostPID != true && pod.HostIPC != true, $"{name}: host namespaces");
            Assert.All(pod.Volumes ?? [], v => Assert.True(v.HostPath is null, $"{name}: hostPath volume {v.Name}"));
            Assert.Equal("RuntimeDefault", pod.SecurityContext?.SeccompProfile?.Type);
            foreach (var container in pod.Containers.Concat(pod.InitContainers ?? []))
            {
                Assert.True(container.SecurityContext is not null, $"{name}/{container.Name} has no securityContext");
                var security = container.SecurityContext!;
                Assert.True(security.AllowPrivilegeEscalation == false, $"{name}/{container.Name}: allowPrivilegeEscalation must be false");
                Assert.True(security.Privileged != true, $"{name}/{container.Name}: privileged");
                Assert.Equal(["ALL"], security.Capabilities?.Drop);
                Assert.True((security.Capabilities?.Add ?? []).All(c => c == "NET_BIND_SERVICE"), $"{name}/{container.Name}: adds capabilities");
                Assert.True((security.RunAsNonRoot ?? pod.SecurityContext?.RunAsNonRoot) == true, $"{name}/{container.Name}: runAsNonRoot");
                Assert.True((security.RunAsUser ?? pod.SecurityContext?.RunAsUser) != 0, $"{name}/{container.Name}: runs as root");
                Assert.All(container.Ports ?? [], p => Assert.Null(p.HostPort));
            }
        }
    }

    [Fact]
    public void The_bare_statefulset_template_refuses_to_start()
    {
        var template = Assert.Single(Manifests.Render("k8s/base/silo").Of<V1StatefulSet>());
        var group = template.Silo().Env("Kbl__NodeGroup")!;
        Assert.Equal(group, template.Spec.Template.Spec.NodeSelector[EksNodeGroupLabel]);
        Assert.True(new KblOptionsValidator().Validate(null, new KblOptions { NodeGroup = group }).Failed,
            $"the template's placeholder node group '{group}' is a valid name: a group that forgets to set its own would start");
    }

    [Fact]
    public void Selectors_match_the_pods_they_are_meant_for()
    {
        foreach (var set in Silos)
        {
            var name = set.Metadata.Name;
            var labels = set.Spec.Template.Metadata.Labels;
            Assert.True(set.Spec.Selector.Matches(labels), $"{name}: its selector does not match its own pod template");
            foreach (var other in Silos.Where(o => o != set))
            {
                Assert.False(set.Spec.Selector.Matches(other.Spec.Template.Metadata.Labels), $"{name}'s selector also matches the pods of {other.Metadata.Name}");
            }

            var governing = Example.Named<V1Service>(set.Spec.ServiceName);
            Assert.Equal("None", governing.Spec.ClusterIP);

            var antiAffinity = Assert.Single(set.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution);
            Assert.Equal("kubernetes.io/hostname", antiAffinity.TopologyKey);
            Assert.True(antiAffinity.LabelSelector.Matches(labels), $"{name}: the anti-affinity selector does not match its own pods, so two silos could share a node");
            foreach (var spread in set.Spec.Template.Spec.TopologySpreadConstraints ?? [])
            {
                Assert.True(spread.LabelSelector.Matches(labels), $"{name}: a topology spread constraint does not count its own pods");
                Assert.All(spread.MatchLabelKeys ?? [], key => Assert.True(labels.ContainsKey(key), $"{name}: matchLabelKeys {key} is not a pod label"));
            }

            foreach (var service in Example.Of<V1Service>())
            {
                Assert.True(service.Spec.Selector.Selects(labels), $"Service {service.Metadata.Name} does not select the silos of {name}");
            }

            var budgets = Example.Of<V1PodDisruptionBudget>().Where(b => b.Spec.Selector.Matches(labels)).ToList();
            Assert.True(budgets.Count == 1, $"{name}'s pods are covered by {budgets.Count} PodDisruptionBudgets; eviction needs exactly one");
        }
    }

    [Fact]
    public void Orleans_finds_the_cluster_pods_by_labels_equal_to_the_cluster_ids()
    {
        foreach (var set in Silos)
        {
            var labels = set.Spec.Template.Metadata.Labels;
            var settings = Settings(set);
            Assert.Equal(settings["Kbl:Cluster:ServiceId"].Value, Label(labels, KubernetesHostingOptions.ServiceIdLabel));
            Assert.Equal(settings["Kbl:Cluster:ClusterId"].Value, Label(labels, KubernetesHostingOptions.ClusterIdLabel));
            Assert.Equal("redis", settings["Kbl:Cluster:Mode"].Value);

            // ElastiCache with AUTH: the connection string holds the password, so it comes from a Secret the guide creates.
            var redis = set.Silo().Env?.SingleOrDefault(e => e.Name == "Kbl__Cluster__Redis")?.ValueFrom?.SecretKeyRef;
            Assert.True(redis is not null, $"{set.Metadata.Name}: Kbl__Cluster__Redis must come from a Secret (it holds the AUTH password)");
            var guide = File.ReadAllText(Manifests.PathOf("docs/deploy-eks.md"));
            Assert.Contains($"create secret generic {redis!.Name}", guide, StringComparison.Ordinal);
            Assert.Contains($"--from-literal={redis.Key}=", guide, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_downward_api_gives_orleans_the_pod_name_namespace_and_address()
    {
        var expected = new Dictionary<string, string>
        {
            [KubernetesHostingOptions.PodNameEnvironmentVariable] = "metadata.name",
            [KubernetesHostingOptions.PodNamespaceEnvironmentVariable] = "metadata.namespace",
            [KubernetesHostingOptions.PodIPEnvironmentVariable] = "status.podIP",
        };
        foreach (var set in Silos)
        {
            foreach (var (variable, fieldPath) in expected)
            {
                var env = set.Silo().Env?.SingleOrDefault(e => e.Name == variable);
                Assert.True(env?.ValueFrom?.FieldRef?.FieldPath == fieldPath, $"{set.Metadata.Name}: {variable} must come from the downward API's {fieldPath}");
            }
        }
    }

    [Fact]
    public void Every_environment_variable_is_a_setting_the_silo_reads()
    {
        Assert.True(SiloSource.Keys.Count > 20, $"only {SiloSource.Keys.Count} Kbl settings found in the code");
        Assert.True(SiloSource.ReadsUrls(), "the silo no longer reads the 'urls' setting that ASPNETCORE_URLS sets");
        string[] others =
        [
            KubernetesHostingOptions.PodNameEnvironmentVariable,
            KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
            KubernetesHostingOptions.PodIPEnvironmentVariable,
            "ASPNETCORE_URLS",
        ];
        foreach (var set in Silos)
        {
            var container = set.Silo();
            var fromEnv = (container.Env ?? []).Select(e => (e.Name, Value: e.ValueFrom is null ? e.Value ?? "" : null, Where: "env")).ToList();
            var fromMaps = new List<(string Name, string? Value, string Where)>();
            foreach (var source in container.EnvFrom ?? [])
            {
                Assert.True(source.Prefix is null && source.SecretRef is null, $"{set.Metadata.Name}: only plain ConfigMap envFrom is checked");
                var map = Example.Named<V1ConfigMap>(source.ConfigMapRef.Name);
                fromMaps.AddRange(map.Data.Select(d => (d.Key, (string?)d.Value, $"ConfigMap {map.Metadata.Name}")));
            }

            Assert.Equal(fromEnv.Count, fromEnv.Select(e => e.Name).Distinct().Count());
            var twice = fromEnv.Select(e => e.Name).Intersect(fromMaps.Select(m => m.Name)).ToList();
            Assert.True(twice.Count == 0, $"{set.Metadata.Name}: set both in env and a ConfigMap: {string.Join(", ", twice)}");

            foreach (var (name, value, where) in fromEnv.Concat(fromMaps))
            {
                if (others.Contains(name))
                {
                    continue;
                }

                Assert.True(name.StartsWith("Kbl__", StringComparison.Ordinal), $"{set.Metadata.Name} ({where}): {name} is no setting the silo reads");
                var key = name.Replace("__", ":", StringComparison.Ordinal);
                Assert.True(SiloSource.Keys.TryGetValue(key, out var setting), $"{set.Metadata.Name} ({where}): {name} is no setting the silo reads ({key})");
                Assert.True(value is null || setting.Accepts(value), $"{set.Metadata.Name} ({where}): {name}='{value}' is not a valid {setting.Type}");
            }
        }
    }

    [Fact]
    public void The_bearer_token_comes_from_a_secret_the_guide_creates()
    {
        var guide = File.ReadAllText(Manifests.PathOf("docs/deploy-eks.md"));
        foreach (var set in Silos)
        {
            var token = set.Silo().Env?.SingleOrDefault(e => e.Name == "Kbl__Auth__Token");
            var secret = token?.ValueFrom?.SecretKeyRef;
            Assert.True(secret is not null && token!.Value is null, $"{set.Metadata.Name}: Kbl__Auth__Token must come from a Secret");
            Assert.Contains($"create secret generic {secret!.Name}", guide, StringComparison.Ordinal);
            Assert.Contains($"--from-literal={secret.Key}=", guide, StringComparison.Ordinal);
        }

        Assert.All(Example.Of<V1ConfigMap>(), map => Assert.DoesNotContain(map.Data.Keys, k => k.StartsWith("Kbl__Auth__", StringComparison.OrdinalIgnoreCase)));
        Assert.Empty(Example.Of<V1Secret>());
    }

    [Fact]
    public void Ports_agree_with_the_settings_and_the_services()
    {
        foreach (var set in Silos)
        {
            var settings = Settings(set);
            var ports = set.Silo().Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
            Assert.Equal(Urls(settings).Single().Port, ports.GetValueOrDefault("http"));
            Assert.Equal(settings["Kbl:Gateway:GrpcPort"].Value, ports.GetValueOrDefault("grpc").ToString(CultureInfo.InvariantCulture));
            Assert.Equal(settings["Kbl:Cluster:SiloPort"].Value, ports.GetValueOrDefault("silo").ToString(CultureInfo.InvariantCulture));
            Assert.Equal(settings["Kbl:Cluster:GatewayPort"].Value, ports.GetValueOrDefault("orleans-gw").ToString(CultureInfo.InvariantCulture));

            foreach (var service in Example.Of<V1Service>())
            {
                foreach (var port in service.Spec.Ports)
                {
                    var target = port.TargetPort?.Value ?? port.Port.ToString(CultureInfo.InvariantCulture);
                    Assert.True(ports.ContainsKey(target) || ports.ContainsValue(int.Parse(target, CultureInfo.InvariantCulture)),
                        $"Service {service.Metadata.Name} port {port.Name} targets {target}, which the pods of {set.Metadata.Name} do not have");
                    if (target == "grpc")
                    {
                        Assert.Equal("kubernetes.io/h2c", port.AppProtocol);
                    }
                }
            }
        }

        var gateway = Example.Named<V1Service>("kbl-gateway");
        Assert.Equal(new[] { "grpc", "http" }, gateway.Spec.Ports.Select(p => p.TargetPort.Value).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Probes_hit_routes_the_silo_serves_on_its_http_port()
    {
        var routes = SiloEndpoints.Routes();
        var open = SiloEndpoints.RoutesWithoutToken();
        Assert.Contains("/healthz", routes);
        foreach (var set in Silos)
        {
            var silo = set.Silo();
            var http = Urls(Settings(set)).Select(u => u.Port).ToList();
            var probes = new[] { ("startup", silo.StartupProbe), ("readiness", silo.ReadinessProbe), ("liveness", silo.LivenessProbe) };
            foreach (var (kind, probe) in probes)
            {
                Assert.True(probe?.HttpGet is not null, $"{set.Metadata.Name} has no HTTP {kind} probe");
                Assert.True(routes.Contains(probe!.HttpGet.Path), $"{set.Metadata.Name}: the {kind} probe asks for {probe.HttpGet.Path}, which the silo does not map");
                Assert.True(open.Contains(probe.HttpGet.Path), $"{set.Metadata.Name}: the {kind} probe asks for {probe.HttpGet.Path}, which needs a bearer token the kubelet does not send");
                var port = probe.HttpGet.Port.Value;
                var number = silo.Ports.SingleOrDefault(p => p.Name == port)?.ContainerPort ?? int.Parse(port, CultureInfo.InvariantCulture);
                Assert.True(http.Contains(number), $"{set.Metadata.Name}: the {kind} probe calls port {port}, not the HTTP/1.1 port ({string.Join(", ", http)})");
            }

            Assert.Equal("/readyz", silo.ReadinessProbe.HttpGet.Path);
            Assert.NotEqual(silo.ReadinessProbe.HttpGet.Path, silo.LivenessProbe.HttpGet.Path);
        }
    }

    [Fact]
    public void The_termination_grace_period_outlasts_the_drain()
    {
        foreach (var set in Silos)
        {
            var drain = TimeSpan.Parse(Settings(set)["Kbl:Placement:DrainTimeout"].Value!, CultureInfo.InvariantCulture);
            var grace = TimeSpan.FromSeconds(set.Spec.Template.Spec.TerminationGracePeriodSeconds ?? 30);

            // The silo's host shutdown timeout is DrainTimeout + 30 s (KblSiloExtensions): the kubelet must wait longer.
            Assert.True(grace > drain + TimeSpan.FromSeconds(30), $"{set.Metadata.Name}: terminationGracePeriodSeconds {grace.TotalSeconds} does not outlast a {drain} drain plus 30 s");
        }
    }

    [Fact]
    public void Each_silo_keeps_its_records_on_its_own_persistent_volume()
    {
        foreach (var set in Silos)
        {
            var dataPath = Settings(set)["Kbl:DataPath"].Value!;
            var claims = set.Spec.VolumeClaimTemplates ?? [];
            var mount = set.Silo().VolumeMounts?.SingleOrDefault(m => m.MountPath == dataPath);
            Assert.True(mount is not null, $"{set.Metadata.Name}: nothing is mounted at Kbl:DataPath {dataPath}");
            var claim = claims.SingleOrDefault(c => c.Metadata.Name == mount!.Name);
            Assert.True(claim is not null, $"{set.Metadata.Name}: {dataPath} is not a volume claim template, so records would not outlive the pod");
            Assert.Equal(new[] { "ReadWriteOnce" }, claim!.Spec.AccessModes);
            if (claim.Spec.StorageClassName is { } storageClass)
            {
                Example.Named<V1StorageClass>(storageClass);
            }
        }
    }

    [Fact]
    public void The_zone_comes_from_the_pod_topology_label_or_a_pinned_literal()
    {
        foreach (var set in Silos)
        {
            var zone = set.Silo().Env?.SingleOrDefault(e => e.Name == "Kbl__Zone");
            Assert.True(zone is not null, $"{set.Metadata.Name} does not set Kbl__Zone");
            if (zone!.ValueFrom is { } source)
            {
                Assert.Equal(ZoneFromPodLabel, source.FieldRef?.FieldPath);
                Assert.Null(zone.Value);
                continue;
            }

            var pinned = Label(set.Spec.Template.Spec.NodeSelector, ZoneLabel);
            Assert.True(zone.Value == pinned, $"{set.Metadata.Name}: Kbl__Zone '{zone.Value}' is a literal but the pods are not pinned to that zone ({ZoneLabel}: '{pinned}')");
            var check = new KblOptionsValidator().Validate(null, new KblOptions { Zone = zone.Value!, SiloName = "kbl-0" });
            Assert.True(check.Succeeded, check.FailureMessage);
        }
    }

    [Fact]
    public void Everything_lives_in_one_namespace_of_its_own()
    {
        var ns = Assert.Single(Example.Of<V1Namespace>()).Metadata.Name;
        foreach (var resource in Example.OfType<IMetadata<V1ObjectMeta>>())
        {
            if (resource is V1Namespace or V1StorageClass or V1ClusterRole or V1ClusterRoleBinding)
            {
                continue;
            }

            Assert.True(resource.Metadata.NamespaceProperty == ns, $"{resource.GetType().Name} {resource.Metadata.Name} is in namespace '{resource.Metadata.NamespaceProperty}', not {ns}");
        }
    }

    [Fact]
    public void Rbac_grants_only_what_orleans_kubernetes_hosting_calls()
    {
        // Nothing cluster-wide for the silos (the Provisioner's node ClusterRole is checked in ProvisionerManifestTests).
        var siloAccount = Silos[0].Spec.Template.Spec.ServiceAccountName;
        Assert.DoesNotContain(Example.Of<V1ClusterRoleBinding>(), b => b.Subjects.Any(s => s.Kind == "ServiceAccount" && s.Name == siloAccount));

        // The silos' Role (the Provisioner's own is checked in ProvisionerManifestTests).
        var binding = Assert.Single(Example.Of<V1RoleBinding>(), b => b.Subjects.Any(s => s.Kind == "ServiceAccount" && s.Name == siloAccount));
        var role = Example.Named<V1Role>(binding.RoleRef.Name);
        var rule = Assert.Single(role.Rules);
        Assert.Equal(new[] { "" }, rule.ApiGroups);
        Assert.Equal(new[] { "pods" }, rule.Resources);

        // KubernetesClusterAgent (Microsoft.Orleans.Hosting.Kubernetes 10.4.2): ReadNamespacedPod (get),
        // PatchNamespacedPod (patch: its own orleans/* labels), ListNamespacedPod (list), WatchListNamespacedPod
        // (watch), and DeleteNamespacedPod (delete) only with DeleteDefunctSiloPods = true.
        var needed = new SortedSet<string>(StringComparer.Ordinal) { "get", "list", "watch", "patch" };
        if (SiloSource.DeletesDefunctSiloPods())
        {
            needed.Add("delete");
        }

        Assert.Equal(needed, new SortedSet<string>(rule.Verbs, StringComparer.Ordinal));

        Assert.Equal(("rbac.authorization.k8s.io", "Role", role.Metadata.Name), (binding.RoleRef.ApiGroup, binding.RoleRef.Kind, binding.RoleRef.Name));
        var subject = Assert.Single(binding.Subjects);
        Assert.Equal("ServiceAccount", subject.Kind);
        var account = Example.Named<V1ServiceAccount>(subject.Name);
        Assert.Equal(role.Metadata.NamespaceProperty, subject.NamespaceProperty);
        Assert.True(account.AutomountServiceAccountToken != false, $"ServiceAccount {account.Metadata.Name} does not mount its token: Orleans cannot reach the API");
        foreach (var set in Silos)
        {
            Assert.Equal(subject.Name, set.Spec.Template.Spec.ServiceAccountName);
            Assert.Equal(role.Metadata.NamespaceProperty, set.Metadata.NamespaceProperty);
            Assert.True(set.Spec.Template.Spec.AutomountServiceAccountToken != false, $"{set.Metadata.Name} does not mount its service account token");
        }
    }

    [Fact]
    public void The_iam_policy_allows_only_the_calls_the_dynamodb_provider_makes_on_its_table_sending_to_the_queue_and_the_cold_tier()
    {
        var settings = Settings(Silos[0]);
        Assert.All(Silos, set => Assert.Equal(settings["Kbl:Storage:DynamoDb:TableName"].Value, Settings(set)["Kbl:Storage:DynamoDb:TableName"].Value));
        Assert.Equal("dynamodb", settings["Kbl:Storage:Mode"].Value);
        var (region, table) = (settings["Kbl:Storage:DynamoDb:Region"].Value, settings["Kbl:Storage:DynamoDb:TableName"].Value);
        var createTable = bool.Parse(settings["Kbl:Storage:DynamoDb:CreateTable"].Value!);

        var calls = SiloSource.DynamoDbCalls();
        Assert.Contains("GetItem", calls);
        var needed = calls.Where(call => createTable || call != "CreateTable").Select(call => $"dynamodb:{call}").Order(StringComparer.Ordinal);

        var policy = JsonNode.Parse(File.ReadAllText(Manifests.PathOf("k8s/iam/silo-policy.json")))!;
        Assert.Equal("2012-10-17", (string?)policy["Version"]);
        var statements = policy["Statement"]!.AsArray().Select(s => s!.AsObject()).ToList();
        var actions = new SortedSet<string>(StringComparer.Ordinal);
        var queueActions = new List<string>();
        var coldTier = new List<(IEnumerable<string> Actions, IEnumerable<string> Resources)>();
        var account = "";
        foreach (var statement in statements)
        {
            Assert.Equal("Allow", (string?)statement["Effect"]);
            Assert.Equal(new[] { "Action", "Effect", "Resource", "Sid" }, statement.Select(p => p.Key).Order(StringComparer.Ordinal));
            if (Strings(statement["Action"]).All(a => a.StartsWith("sqs:", StringComparison.Ordinal)))
            {
                // Sending desired states to the deployment queue: checked with the Provisioner (ProvisionerManifestTests).
                queueActions.AddRange(Strings(statement["Action"]));
                continue;
            }

            if (Strings(statement["Action"]).All(a => a.StartsWith("s3:", StringComparison.Ordinal)))
            {
                coldTier.Add((Strings(statement["Action"]), Strings(statement["Resource"])));
                continue;
            }

            foreach (var action in Strings(statement["Action"]))
            {
                actions.Add(action);
            }

            foreach (var resource in Strings(statement["Resource"]))
            {
                var arn = TableArn().Match(resource);
                Assert.True(arn.Success, $"policy resource {resource} is not one DynamoDB table");
                Assert.Equal((region, table), (arn.Groups["region"].Value, arn.Groups["table"].Value));
                account = arn.Groups["account"].Value;
            }
        }

        Assert.Equal(needed, actions);
        Assert.Equal(["sqs:SendMessage", "sqs:GetQueueAttributes"], queueActions);

        // The cold tier: what its code calls, on the bucket the silos are configured with (the stack's), and its objects.
        Assert.Equal("s3", settings["Kbl:ColdTier:Mode"].Value);
        var bucket = $"arn:aws:s3:::{settings["Kbl:ColdTier:S3:Bucket"].Value}";
        Assert.Equal(region, settings["Kbl:ColdTier:S3:Region"].Value);
        var s3 = CodeCalls.S3();
        foreach (var (on, resource) in new[] { ("bucket", bucket), ("objects", bucket + "/*") })
        {
            var statement = Assert.Single(coldTier, s => s.Resources.SequenceEqual([resource]));
            Assert.Equal(s3.Where(a => a.Value == on).Select(a => a.Key).Order(StringComparer.Ordinal), statement.Actions.Order(StringComparer.Ordinal));
        }

        Assert.Equal(2, coldTier.Count);

        // The policy belongs to the IRSA role the silos' service account names, in the same account.
        var annotations = Example.Named<V1ServiceAccount>(Silos[0].Spec.Template.Spec.ServiceAccountName).Metadata.Annotations;
        var roleArn = Label(annotations, "eks.amazonaws.com/role-arn");
        Assert.Matches($"^arn:aws:iam::{account}:role/", roleArn ?? "");
    }

    [Fact]
    public void The_dockerfile_runs_the_silo_and_exposes_the_ports_the_pods_use()
    {
        var dockerfile = File.ReadAllLines(Manifests.PathOf("Dockerfile")).Where(l => !l.TrimStart().StartsWith('#')).ToList();
        var assembly = AssemblyName().Match(File.ReadAllText(Manifests.PathOf("src/Silo/Silo.csproj"))).Groups["name"].Value;
        Assert.False(string.IsNullOrEmpty(assembly), "src/Silo/Silo.csproj names no AssemblyName");
        Assert.Contains(dockerfile, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains($"\"{assembly}.dll\"", StringComparison.Ordinal));
        Assert.Contains(dockerfile, l => l.StartsWith("USER $APP_UID", StringComparison.Ordinal));
        var exposed = dockerfile.Where(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))
            .SelectMany(l => l["EXPOSE ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(p => int.Parse(p, CultureInfo.InvariantCulture))
            .Order();
        foreach (var set in Silos)
        {
            Assert.Equal(set.Silo().Ports.Select(p => p.ContainerPort).Order(), exposed);
            Assert.Equal(1654L, set.Spec.Template.Spec.SecurityContext.RunAsUser);
        }

        Assert.Contains("**/bin", File.ReadAllLines(Manifests.PathOf(".dockerignore")));
    }

    private static List<object> Load(string yaml, string what)
    {
        try
        {
            return Manifests.LoadStrict(yaml);
        }
        catch (Exception e) when (e is YamlException or KeyNotFoundException)
        {
            throw new Xunit.Sdk.XunitException($"{what} does not load into the Kubernetes models: {e.Message} {e.InnerException?.Message}");
        }
    }

    /// <summary>What the silo of a StatefulSet reads, key by key: defaults from the code, then the ConfigMaps, then env.</summary>
    private static Dictionary<string, (string? Value, string Source)> Settings(V1StatefulSet set)
    {
        var settings = new Dictionary<string, (string? Value, string Source)>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in SiloSource.Keys.Values)
        {
            settings[key.Path] = (key.Default, "default");
        }

        var container = set.Silo();
        foreach (var source in container.EnvFrom ?? [])
        {
            foreach (var (name, value) in Example.Named<V1ConfigMap>(source.ConfigMapRef.Name).Data)
            {
                settings[Key(name)] = (value, source.ConfigMapRef.Name);
            }
        }

        foreach (var env in container.Env ?? [])
        {
            settings[Key(env.Name)] = env.ValueFrom is null ? (env.Value ?? "", "env") : (null, "valueFrom");
        }

        return settings;

        static string Key(string variable) => variable.StartsWith("ASPNETCORE_", StringComparison.Ordinal)
            ? variable["ASPNETCORE_".Length..]
            : variable.Replace("__", ":", StringComparison.Ordinal);
    }

    private static List<Uri> Urls(Dictionary<string, (string? Value, string Source)> settings) =>
        [.. (settings.GetValueOrDefault("urls").Value ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries).Select(u => new Uri(u))];

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonArray array => array.Select(n => (string)n!),
        JsonValue value => [(string)value!],
        _ => throw new InvalidDataException($"expected a string or a list of strings, got {node?.ToJsonString()}"),
    };

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    [GeneratedRegex("<AssemblyName>(?<name>[^<]+)</AssemblyName>")]
    private static partial Regex AssemblyName();

    [GeneratedRegex(@"^arn:aws:dynamodb:(?<region>[a-z0-9-]+):(?<account>[0-9]{12}):table/(?<table>[A-Za-z0-9_.-]{3,255})$")]
    private static partial Regex TableArn();
}
