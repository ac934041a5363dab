using System.Globalization;
using k8s.Models;

namespace Kbl.Tests.Deployment;

/// <summary>
/// Who may reach a silo in the example overlay (k8s/base/networkpolicy.yaml, evaluated here as Kubernetes evaluates
/// NetworkPolicy ingress rules) and where its TLS certificate comes from: the silo ports admit silos only, the HTTP/gRPC
/// gateway admits the labelled clients and the Provisioner, every port a silo exposes is admitted from somewhere, and
/// the certificate is a file of an optional Secret the guide creates.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class SecurityManifestTests
{
    private const string Namespace = "kbl";
    private const string ClientLabel = "kbl/gateway-client";
    private const string NamespaceNameLabel = "kubernetes.io/metadata.name";

    private static IReadOnlyList<object> Example => Manifests.ExampleResources;

    private static IReadOnlyList<V1StatefulSet> Silos => Example.Of<V1StatefulSet>();

    private static V1Deployment Provisioner => Example.Named<V1Deployment>("kbl-provisioner");

    /// <summary>A pod that opens a connection: its namespace (with that namespace's labels) and its own labels.</summary>
    private sealed record Source(string What, string Namespace, IDictionary<string, string> NamespaceLabels, IDictionary<string, string> Labels);

    [Fact]
    public void Every_silo_is_isolated_for_ingress_and_the_provisioner_is_not_taken_for_a_silo()
    {
        var policies = Example.Of<V1NetworkPolicy>();
        Assert.NotEmpty(policies);
        foreach (var set in Silos)
        {
            var isolating = Isolating(set.Spec.Template.Metadata.Labels);
            Assert.True(isolating.Count > 0, $"no NetworkPolicy isolates the pods of {set.Metadata.Name}: anything in the pod network reaches its silo ports");
        }

        // The silos' rules are not the Provisioner's: a policy that selected its pods too would cut its own health port off.
        foreach (var policy in Silos.SelectMany(s => Isolating(s.Spec.Template.Metadata.Labels)).Distinct())
        {
            Assert.False(Selects(policy.Spec.PodSelector, Provisioner.Spec.Template.Metadata.Labels), $"NetworkPolicy {policy.Metadata.Name} takes the Provisioner for a silo");
        }

        Assert.All(policies, p => Assert.Equal(Namespace, p.Metadata.NamespaceProperty));
    }

    [Fact]
    public void The_silo_and_orleans_gateway_ports_admit_the_silos_of_every_group_and_nothing_else()
    {
        var silo = Silos[0].Spec.Template.Metadata.Labels;
        var outsiders = new[]
        {
            FromKbl("the Provisioner", Provisioner.Spec.Template.Metadata.Labels),
            FromKbl("an unlabelled pod of the kbl namespace", new Dictionary<string, string> { ["app"] = "debug" }),
            FromKbl("a gateway client in the kbl namespace", new Dictionary<string, string> { [ClientLabel] = "true" }),
            Elsewhere("a gateway client in another namespace", "shop", new Dictionary<string, string> { [ClientLabel] = "true" }),
            Elsewhere("a pod of another namespace that copies the silos' labels", "intruder", silo),
        };
        foreach (var target in Silos)
        {
            foreach (var portName in new[] { "silo", "orleans-gw" })
            {
                var port = Port(target, portName);
                foreach (var peer in Silos)
                {
                    Assert.True(Admits(target, FromKbl($"a silo of {peer.Metadata.Name}", peer.Spec.Template.Metadata.Labels), port),
                        $"{target.Metadata.Name} port {port} ({portName}) refuses the silos of {peer.Metadata.Name}: the cluster cannot form");
                }

                foreach (var outsider in outsiders)
                {
                    Assert.False(Admits(target, outsider, port), $"{target.Metadata.Name} port {port} ({portName}) admits {outsider.What}");
                }

                // No address range may open them either (a load balancer's, a node's subnet).
                var rules = Isolating(target.Spec.Template.Metadata.Labels).SelectMany(p => p.Spec.Ingress ?? []).Where(r => Covers(r, target.Silo(), port));
                Assert.All(rules, r => Assert.True(r.FromProperty is { Count: > 0 } && r.FromProperty.All(f => f.IpBlock is null),
                    $"{target.Metadata.Name} port {port} is admitted from anywhere or from an address range"));
            }
        }
    }

    [Fact]
    public void The_gateway_ports_admit_labelled_clients_of_any_namespace_and_the_provisioner_where_it_reports()
    {
        foreach (var target in Silos)
        {
            var (http, grpc) = (Port(target, "http"), Port(target, "grpc"));
            foreach (var client in new[]
            {
                Elsewhere("a labelled client in another namespace", "shop", new Dictionary<string, string> { [ClientLabel] = "true", ["app"] = "checkout" }),
                FromKbl("a labelled client in the kbl namespace", new Dictionary<string, string> { [ClientLabel] = "true" }),
            })
            {
                Assert.True(Admits(target, client, http), $"{target.Metadata.Name}: {client.What} cannot reach the HTTP gateway");
                Assert.True(Admits(target, client, grpc), $"{target.Metadata.Name}: {client.What} cannot reach the gRPC gateway");
            }

            foreach (var stranger in new[]
            {
                Elsewhere("an unlabelled pod of another namespace", "shop", new Dictionary<string, string> { ["app"] = "checkout" }),
                Elsewhere("a pod labelled false", "shop", new Dictionary<string, string> { [ClientLabel] = "false" }),
                FromKbl("an unlabelled pod of the kbl namespace", new Dictionary<string, string> { ["app"] = "debug" }),
            })
            {
                Assert.False(Admits(target, stranger, http) || Admits(target, stranger, grpc), $"{target.Metadata.Name}: {stranger.What} reaches the gateway");
            }

            // The Provisioner reports to Kbl:Provisioning:ClusterUrl: the gateway Service's port, to the silos' container port it targets.
            var url = new Uri(Provisioner.Spec.Template.Spec.Containers.Single().Env.Single(e => e.Name == "Kbl__Provisioning__ClusterUrl").Value);
            var servicePort = Example.Named<V1Service>(url.Host).Spec.Ports.Single(p => p.Port == url.Port);
            var reports = Port(target, servicePort.TargetPort.Value);
            Assert.True(Admits(target, FromKbl("the Provisioner", Provisioner.Spec.Template.Metadata.Labels), reports),
                $"{target.Metadata.Name} refuses the Provisioner on port {reports}, where it reports what it observed");
        }

        // The label is the operator's to give: the guide and the threat model name it.
        foreach (var doc in new[] { "docs/deploy-eks.md", "docs/security.md" })
        {
            Assert.Contains(ClientLabel, File.ReadAllText(Manifests.PathOf(doc)), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Every_port_a_silo_exposes_is_admitted_from_somewhere_and_every_rule_names_ports_it_exposes()
    {
        foreach (var set in Silos)
        {
            var container = set.Silo();
            var rules = Isolating(set.Spec.Template.Metadata.Labels).SelectMany(p => p.Spec.Ingress ?? []).ToList();
            foreach (var port in container.Ports)
            {
                Assert.True(rules.Any(r => Covers(r, container, port.ContainerPort)),
                    $"{set.Metadata.Name}: no ingress rule admits its port {port.Name} ({port.ContainerPort}), so nothing can reach it");
            }

            foreach (var rule in rules)
            {
                Assert.True(rule.Ports is { Count: > 0 }, $"{set.Metadata.Name}: an ingress rule admits every port");
                foreach (var port in rule.Ports)
                {
                    Assert.Equal("TCP", port.Protocol ?? "TCP");
                    Assert.Null(port.EndPort);
                    Assert.True(Resolve(container, port.Port) is { } number && container.Ports.Any(p => p.ContainerPort == number),
                        $"{set.Metadata.Name}: an ingress rule names port {port.Port?.Value}, which the silo does not expose");
                }
            }
        }
    }

    [Fact]
    public void Silo_tls_reads_its_certificate_from_an_optional_secret_the_guide_creates()
    {
        var guide = File.ReadAllText(Manifests.PathOf("docs/deploy-eks.md"));
        var template = Assert.Single(Manifests.Render("k8s/base/silo").Of<V1StatefulSet>());
        var optional = template.Spec.Template.Spec.Volumes.Where(v => v.Secret is not null).ToList();
        Assert.True(optional.Count > 0 && optional.All(v => v.Secret.Optional == true),
            "the bare template must mount its Secrets optionally: without TLS configured a missing Secret must not keep a silo from starting");

        var config = Example.Named<V1ConfigMap>("kbl-config").Data;
        Assert.True(config.ContainsKey("Kbl__Cluster__Tls__CertificatePath"), "the example overlay does not turn TLS between silos on");
        foreach (var set in Silos)
        {
            var container = set.Silo();
            foreach (var (setting, key) in new[] { ("Kbl__Cluster__Tls__CertificatePath", "tls.crt"), ("Kbl__Cluster__Tls__KeyPath", "tls.key") })
            {
                var path = config[setting];
                var mount = container.VolumeMounts.SingleOrDefault(m => Path.GetDirectoryName(path) == m.MountPath.TrimEnd('/'));
                Assert.True(mount is not null, $"{set.Metadata.Name}: {setting} '{path}' is in no mounted volume");
                Assert.True(mount!.ReadOnlyProperty == true, $"{set.Metadata.Name}: the certificate's volume is mounted writable");
                var secret = set.Spec.Template.Spec.Volumes.Single(v => v.Name == mount.Name).Secret;
                Assert.True(secret is not null, $"{set.Metadata.Name}: {setting} '{path}' is not in a Secret");
                Assert.Equal(key, Path.GetFileName(path));
                Assert.Contains($"create secret tls {secret!.SecretName}", guide, StringComparison.Ordinal);
            }
        }

        // The guide's certificate is one the silo accepts: for both ends of a connection.
        Assert.Contains("extendedKeyUsage=serverAuth,clientAuth", guide, StringComparison.Ordinal);
    }

    /// <summary>The policies of the kbl namespace that select pods with <paramref name="labels"/> for ingress.</summary>
    private static List<V1NetworkPolicy> Isolating(IDictionary<string, string> labels) =>
        [.. Example.Of<V1NetworkPolicy>().Where(p =>
            p.Metadata.NamespaceProperty == Namespace &&
            Selects(p.Spec.PodSelector, labels) &&
            (p.Spec.PolicyTypes?.Contains("Ingress") ?? true))];

    /// <summary>Whether a connection from <paramref name="source"/> to <paramref name="port"/> of a pod of <paramref name="target"/> is admitted.</summary>
    private static bool Admits(V1StatefulSet target, Source source, int port)
    {
        var policies = Isolating(target.Spec.Template.Metadata.Labels);
        return policies.Count == 0 || policies.Any(p => (p.Spec.Ingress ?? []).Any(r =>
            Covers(r, target.Silo(), port) &&
            (r.FromProperty is not { Count: > 0 } || r.FromProperty.Any(peer => PeerAdmits(peer, p.Metadata.NamespaceProperty, source)))));
    }

    private static bool PeerAdmits(V1NetworkPolicyPeer peer, string policyNamespace, Source source)
    {
        if (peer.IpBlock is not null)
        {
            return false; // a pod's address is in no range these tests know; ranges are checked on their own
        }

        var inNamespace = peer.NamespaceSelector is null ? source.Namespace == policyNamespace : Selects(peer.NamespaceSelector, source.NamespaceLabels);
        return inNamespace && (peer.PodSelector is null || Selects(peer.PodSelector, source.Labels));
    }

    private static bool Covers(V1NetworkPolicyIngressRule rule, V1Container container, int port) =>
        rule.Ports is not { Count: > 0 } ||
        rule.Ports.Any(p => (p.Protocol ?? "TCP") == "TCP" && Resolve(container, p.Port) is { } from && (from == port || (p.EndPort is { } end && port >= from && port <= end)));

    /// <summary>A rule's port as a number: literal, or the container port of that name.</summary>
    private static int? Resolve(V1Container container, IntOrString? port) =>
        port is null ? null
        : int.TryParse(port.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number
        : container.Ports.SingleOrDefault(p => p.Name == port.Value)?.ContainerPort;

    /// <summary>A label selector as NetworkPolicy reads it: empty selects everything.</summary>
    private static bool Selects(V1LabelSelector selector, IDictionary<string, string> labels) =>
        (selector.MatchLabels is not { Count: > 0 } && selector.MatchExpressions is not { Count: > 0 }) || selector.Matches(labels);

    private static int Port(V1StatefulSet set, string name) =>
        set.Silo().Ports.SingleOrDefault(p => p.Name == name)?.ContainerPort ?? throw new InvalidOperationException($"{set.Metadata.Name} exposes no port {name}");

    private static Source FromKbl(string what, IDictionary<string, string> labels)
    {
        var labelsOfKbl = new Dictionary<string, string>(Example.Named<V1Namespace>(Namespace).Metadata.Labels) { [NamespaceNameLabel] = Namespace };
        return new(what, Namespace, labelsOfKbl, labels);
    }

    private static Source Elsewhere(string what, string ns, IDictionary<string, string> labels) =>
        new(what, ns, new Dictionary<string, string> { [NamespaceNameLabel] = ns }, labels);
}
