using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Kubernetes;
using Kbl.Tests.Deployment;
using Microsoft.Extensions.Options;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// <see cref="SiloStatefulSets"/> against <see cref="KubernetesApiDouble"/> through the real KubernetesClient, with the
/// example overlay's own <c>kbl-hot-us-east-1a</c> StatefulSet (rendered from k8s/) as the template.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class StatefulSetTests : IDisposable
{
    private const string Namespace = "kbl";
    private const string Template = "kbl-hot-us-east-1a";

    private readonly KubernetesApiDouble _api = new();
    private readonly k8s.Kubernetes _client;
    private readonly SiloStatefulSets _sets;

    public StatefulSetTests()
    {
        _client = new k8s.Kubernetes(_api.Configuration);
        _sets = Sets(Template);
        foreach (var set in Manifests.ExampleResources.Of<V1StatefulSet>())
        {
            _api.Put(set);
        }
    }

    private static V1StatefulSet TemplateSet => Manifests.ExampleResources.Named<V1StatefulSet>(Template);

    public void Dispose()
    {
        _client.Dispose();
        _api.Dispose();
    }

    [Fact]
    public async Task A_new_group_gets_a_statefulset_copied_from_the_template_with_its_name_selector_and_node_group()
    {
        var ready = await _sets.Scale("warm", 2, CancellationToken.None);

        Assert.Equal(0, ready);
        var set = _api.Get(Namespace, "kbl-warm") ?? throw new Xunit.Sdk.XunitException("kbl-warm was not created");
        Assert.Equal(2, set.Spec.Replicas);
        Assert.Equal("warm", set.Metadata.Labels[SiloStatefulSets.NodeGroupLabel]);
        Assert.Equal("kbl-provisioner", set.Metadata.Labels["app.kubernetes.io/managed-by"]);
        Assert.Equal("warm", set.Spec.Selector.MatchLabels[SiloStatefulSets.NodeGroupLabel]);
        Assert.Equal("warm", set.Spec.Template.Metadata.Labels[SiloStatefulSets.NodeGroupLabel]);
        Assert.Equal("warm", set.Spec.Template.Spec.NodeSelector[SiloStatefulSets.EksNodeGroupLabel]);
        Assert.Equal("warm", Assert.Single(set.Silo().Env, e => e.Name == "Kbl__NodeGroup").Value);
        Assert.All(set.Spec.VolumeClaimTemplates, claim => Assert.Equal("warm", claim.Metadata.Labels[SiloStatefulSets.NodeGroupLabel]));

        // Its own pods only: the selectors of the new group and of the template's group do not overlap.
        var hot = _api.Get(Namespace, Template)!;
        Assert.True(set.Spec.Selector.Matches(set.Spec.Template.Metadata.Labels));
        Assert.False(set.Spec.Selector.Matches(hot.Spec.Template.Metadata.Labels));
        Assert.False(hot.Spec.Selector.Matches(set.Spec.Template.Metadata.Labels));

        Assert.Equal(
            ["GET /apis/apps/v1/namespaces/kbl/statefulsets/kbl-warm -> 404", "GET /apis/apps/v1/namespaces/kbl/statefulsets/kbl-hot-us-east-1a -> 200", "POST /apis/apps/v1/namespaces/kbl/statefulsets -> 201"],
            _api.Calls.Select(c => $"{c.Method} {c.Path} -> {c.Status}"));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task The_create_carries_none_of_the_fields_the_api_server_owns()
    {
        await _sets.Scale("warm", 1, CancellationToken.None);

        var post = Assert.Single(_api.Writes);
        var body = JsonNode.Parse(post.Body!)!.AsObject();
        Assert.Equal(("apps/v1", "StatefulSet"), ((string?)body["apiVersion"], (string?)body["kind"]));
        var metadata = body["metadata"]!.AsObject();
        Assert.Equal(["labels", "name", "namespace"], metadata.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Null(body["status"]);
        Assert.DoesNotContain("resourceVersion", post.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("managedFields", post.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("last-applied-configuration", post.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("creationTimestamp\":\"", post.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_copy_keeps_everything_else_of_the_template_image_probes_volumes_and_claims()
    {
        await _sets.Scale("warm", 3, CancellationToken.None);
        var copy = _api.Get(Namespace, "kbl-warm")!;
        var template = TemplateSet;

        // Spot checks that say what matters, then the whole spec: equal once the group's own values are put back.
        Assert.Equal(template.Silo().Image, copy.Silo().Image);
        Assert.Equal("/readyz", copy.Silo().ReadinessProbe.HttpGet.Path);
        Assert.Equal(Json(template.Silo().LivenessProbe), Json(copy.Silo().LivenessProbe));
        Assert.Equal(Json(template.Spec.VolumeClaimTemplates[0].Spec), Json(copy.Spec.VolumeClaimTemplates[0].Spec));
        Assert.Equal(template.Spec.ServiceName, copy.Spec.ServiceName);
        Assert.NotNull(copy.Silo().Env.Single(e => e.Name == "Kbl__Zone").ValueFrom);

        // A group across zones copied from a zonal template: the template's zone goes (labels, node selector), and each
        // silo reads its zone from its pod's label instead.
        var expected = KubernetesJson.Deserialize<V1StatefulSetSpec>(KubernetesJson.Serialize(template.Spec));
        expected.Replicas = 3;
        expected.Selector.MatchLabels[SiloStatefulSets.NodeGroupLabel] = "warm";
        expected.Selector.MatchLabels.Remove(SiloStatefulSets.ZoneLabel);
        expected.Template.Metadata.Labels[SiloStatefulSets.NodeGroupLabel] = "warm";
        expected.Template.Metadata.Labels.Remove(SiloStatefulSets.ZoneLabel);
        expected.Template.Spec.NodeSelector[SiloStatefulSets.EksNodeGroupLabel] = "warm";
        expected.Template.Spec.NodeSelector.Remove(SiloStatefulSets.TopologyZoneLabel);
        var env = expected.Template.Spec.Containers.Single(c => c.Name == "silo").Env;
        env.Single(e => e.Name == "Kbl__NodeGroup").Value = "warm";
        var zone = env.Single(e => e.Name == "Kbl__Zone");
        zone.Value = null;
        zone.ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.labels['topology.kubernetes.io/zone']" } };
        foreach (var claim in expected.VolumeClaimTemplates)
        {
            claim.Metadata.Labels[SiloStatefulSets.NodeGroupLabel] = "warm";
            claim.Metadata.Labels.Remove(SiloStatefulSets.ZoneLabel);
        }

        Assert.Equal(Json(expected), Json(copy.Spec));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task A_zonal_group_gets_its_zone_as_labels_node_selectors_and_a_literal()
    {
        await _sets.Scale(new SiloGroup("warm", "us-east-1b"), 2, CancellationToken.None);

        var set = _api.Get(Namespace, "kbl-warm-us-east-1b") ?? throw new Xunit.Sdk.XunitException("kbl-warm-us-east-1b was not created");
        Assert.Equal(("warm", "us-east-1b"), (set.Spec.Selector.MatchLabels[SiloStatefulSets.NodeGroupLabel], set.Spec.Selector.MatchLabels[SiloStatefulSets.ZoneLabel]));
        Assert.Equal("warm-us-east-1b", set.Spec.Template.Spec.NodeSelector[SiloStatefulSets.EksNodeGroupLabel]);
        Assert.Equal("us-east-1b", set.Spec.Template.Spec.NodeSelector[SiloStatefulSets.TopologyZoneLabel]);
        Assert.Equal(("warm", "us-east-1b"), (set.Silo().Env("Kbl__NodeGroup"), set.Silo().Env("Kbl__Zone")));
        Assert.All(set.Spec.VolumeClaimTemplates, claim => Assert.Equal("us-east-1b", claim.Metadata.Labels[SiloStatefulSets.ZoneLabel]));
        Assert.False(set.Spec.Selector.Matches(TemplateSet.Spec.Template.Metadata.Labels));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task Scaling_up_and_down_patches_the_scale_subresource_with_a_merge_patch()
    {
        await _sets.Scale("warm", 2, CancellationToken.None);

        await _sets.Scale("warm", 5, CancellationToken.None);
        Assert.Equal(5, _api.Get(Namespace, "kbl-warm")!.Spec.Replicas);
        await _sets.Scale("warm", 0, CancellationToken.None);
        Assert.Equal(0, _api.Get(Namespace, "kbl-warm")!.Spec.Replicas);

        var patches = _api.Writes.Skip(1).ToList();
        Assert.Equal(2, patches.Count);
        Assert.All(patches, p => Assert.Equal(("PATCH", "/apis/apps/v1/namespaces/kbl/statefulsets/kbl-warm/scale"), (p.Method, p.Path)));
        Assert.All(patches, p => Assert.StartsWith("application/merge-patch+json", p.ContentType, StringComparison.Ordinal));
        Assert.Equal(["{\"spec\":{\"replicas\":5}}", "{\"spec\":{\"replicas\":0}}"], patches.Select(p => JsonNode.Parse(p.Body!)!.ToJsonString()));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task A_group_the_overlay_deployed_is_scaled_in_place_not_copied()
    {
        await _sets.Scale(new SiloGroup("cold", "us-east-1a"), 4, CancellationToken.None);

        var cold = _api.Get(Namespace, "kbl-cold-us-east-1a")!;
        Assert.Equal(4, cold.Spec.Replicas);
        Assert.Equal("us-east-1a", cold.Spec.Template.Spec.NodeSelector["topology.kubernetes.io/zone"]);
        Assert.Equal(["PATCH"], _api.Writes.Select(w => w.Method));
        Assert.Equal(["kbl-cold-us-east-1a", "kbl-hot-us-east-1a"], _api.Names(Namespace));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task Scale_returns_the_ready_replicas_as_pods_come_up()
    {
        Assert.Equal(0, await _sets.Scale("warm", 3, CancellationToken.None));
        _api.SetReadyReplicas(Namespace, "kbl-warm", 1);
        Assert.Equal(1, await _sets.Scale("warm", 3, CancellationToken.None));
        _api.SetReadyReplicas(Namespace, "kbl-warm", 3);
        Assert.Equal(3, await _sets.Scale("warm", 3, CancellationToken.None));
    }

    [Fact]
    public async Task Repeating_scale_with_the_same_replicas_writes_nothing()
    {
        await _sets.Scale("warm", 2, CancellationToken.None);
        var writes = _api.Writes.Count;

        for (var i = 0; i < 3; i++)
        {
            await _sets.Scale("warm", 2, CancellationToken.None);
            await _sets.Scale(new SiloGroup("hot", "us-east-1a"), TemplateSet.Spec.Replicas ?? 1, CancellationToken.None); // the API's default
        }

        Assert.Equal(writes, _api.Writes.Count);
        Assert.Equal(1, writes);
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task Remove_deletes_the_groups_statefulset_and_a_missing_one_is_not_an_error()
    {
        await _sets.Scale("warm", 1, CancellationToken.None);

        await _sets.Remove("warm", CancellationToken.None);
        Assert.Null(_api.Get(Namespace, "kbl-warm"));
        await _sets.Remove("warm", CancellationToken.None);
        await _sets.Remove(new SiloGroup("cold", "us-east-1a"), CancellationToken.None);

        Assert.Equal(["kbl-hot-us-east-1a"], _api.Names(Namespace));
        Assert.Equal(
            ["DELETE kbl-warm -> 200", "DELETE kbl-warm -> 404", "DELETE kbl-cold-us-east-1a -> 200"],
            _api.Writes.Where(w => w.Method == "DELETE").Select(w => $"DELETE {w.Path.Split('/')[^1]} -> {w.Status}"));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task The_template_is_never_removed_new_groups_are_copied_from_it()
    {
        await _sets.Remove(new SiloGroup("hot", "us-east-1a"), CancellationToken.None);

        Assert.NotNull(_api.Get(Namespace, Template));
        Assert.Empty(_api.Writes);
    }

    [Fact]
    public async Task A_missing_template_is_a_clear_error_and_creates_nothing()
    {
        var sets = Sets("kbl-nothing");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => sets.Scale("warm", 1, CancellationToken.None));

        Assert.Contains("kbl-nothing", error.Message, StringComparison.Ordinal);
        Assert.Contains("TemplateStatefulSet", error.Message, StringComparison.Ordinal);
        Assert.Empty(_api.Writes);
    }

    [Theory]
    [InlineData("Hot")]
    [InlineData("hot_1")]
    [InlineData("-hot")]
    [InlineData("hot-")]
    [InlineData("")]
    [InlineData("a-node-group-name-far-too-long-for-its-pods-labels")]
    public async Task A_group_name_that_cannot_name_a_statefulset_is_refused_before_any_call(string group)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _sets.Scale(group, 1, CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentException>(() => _sets.Remove(group, CancellationToken.None));
        Assert.Empty(_api.Calls);
    }

    private SiloStatefulSets Sets(string template) => new(
        _client,
        Options.Create(new ProvisioningOptions { Kubernetes = { Namespace = Namespace, TemplateStatefulSet = template } }),
        new RecordingLogger<SiloStatefulSets>());

    private static string Json(object value) => KubernetesJson.Serialize(value);
}
