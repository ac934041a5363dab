using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Kbl.Tests.Deployment;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// The Kubernetes API double itself: it must refuse what a real API server refuses, or the StatefulSet tests would pass
/// against a server that accepts anything.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class StatefulSetApiDoubleTests : IDisposable
{
    private const string Sets = "/apis/apps/v1/namespaces/kbl/statefulsets";

    private readonly KubernetesApiDouble _api = new();
    private readonly HttpClient _http;
    private readonly k8s.Kubernetes _client;

    public StatefulSetApiDoubleTests()
    {
        _http = new HttpClient { BaseAddress = _api.Url };
        _client = new k8s.Kubernetes(_api.Configuration);
        _api.Put(Hot());
    }

    public void Dispose()
    {
        _client.Dispose();
        _http.Dispose();
        _api.Dispose();
    }

    [Fact]
    public async Task A_missing_statefulset_is_a_kubernetes_status_404_that_the_client_reads()
    {
        var error = await Assert.ThrowsAsync<HttpOperationException>(() => _client.AppsV1.ReadNamespacedStatefulSetAsync("kbl-none", "kbl"));

        Assert.Equal(HttpStatusCode.NotFound, error.Response.StatusCode);
        var status = JsonNode.Parse(error.Response.Content)!;
        Assert.Equal(("Status", "v1", "Failure", "NotFound", 404), ((string?)status["kind"], (string?)status["apiVersion"], (string?)status["status"], (string?)status["reason"], (int?)status["code"]));
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task A_duplicate_create_is_409_already_exists()
    {
        var set = KubernetesJson.Deserialize<V1StatefulSet>(KubernetesJson.Serialize(Hot()));
        set.ApiVersion = "apps/v1";
        set.Kind = "StatefulSet";

        var error = await Assert.ThrowsAsync<HttpOperationException>(() => _client.AppsV1.CreateNamespacedStatefulSetAsync(set, "kbl"));

        Assert.Equal(HttpStatusCode.Conflict, error.Response.StatusCode);
        Assert.Equal("AlreadyExists", (string?)JsonNode.Parse(error.Response.Content)!["reason"]);
        Assert.Empty(_api.Rejected);
    }

    [Theory]
    [InlineData("text/plain", "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\"}", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/json", "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"x\"}}", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"x\"}}", HttpStatusCode.BadRequest)]
    [InlineData("application/json", "not json", HttpStatusCode.BadRequest)]
    public async Task A_create_with_the_wrong_media_type_or_kind_is_rejected(string contentType, string body, HttpStatusCode expected)
    {
        using var content = new StringContent(body, Encoding.UTF8, contentType);
        using var response = await _http.PostAsync(new Uri(Sets, UriKind.Relative), content);

        Assert.Equal(expected, response.StatusCode);
        Assert.Single(_api.Rejected);
    }

    [Fact]
    public async Task A_create_that_a_real_server_would_refuse_is_rejected()
    {
        var good = JsonNode.Parse(KubernetesJson.Serialize(Hot()))!.AsObject();
        good["apiVersion"] = "apps/v1";
        good["kind"] = "StatefulSet";
        good["metadata"]!["name"] = "kbl-warm";

        var withVersion = good.DeepClone();
        withVersion["metadata"]!["resourceVersion"] = "5";
        var otherNamespace = good.DeepClone();
        otherNamespace["metadata"]!["namespace"] = "default";
        var selectorMismatch = good.DeepClone();
        selectorMismatch["spec"]!["selector"]!["matchLabels"]!["kbl/node-group"] = "warm";

        foreach (var (body, status) in new[] { (withVersion, HttpStatusCode.BadRequest), (otherNamespace, HttpStatusCode.BadRequest), (selectorMismatch, HttpStatusCode.UnprocessableEntity) })
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await _http.PostAsync(new Uri(Sets, UriKind.Relative), content);
            Assert.Equal(status, response.StatusCode);
        }

        Assert.Equal(3, _api.Rejected.Count);
        Assert.Equal(["kbl-hot"], _api.Names("kbl"));
    }

    [Theory]
    [InlineData("PUT", Sets + "/kbl-hot")]
    [InlineData("PATCH", Sets + "/kbl-hot")]
    [InlineData("DELETE", Sets)]
    [InlineData("POST", Sets + "/kbl-hot/scale")]
    public async Task A_method_the_double_does_not_serve_is_405(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = new StringContent("{}", Encoding.UTF8, "application/json"),
        };
        using var response = await _http.SendAsync(request);

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Single(_api.Rejected);
    }

    [Theory]
    [InlineData("/api/v1/namespaces/kbl/pods")]
    [InlineData("/apis/apps/v1/namespaces/kbl/deployments/kbl")]
    [InlineData(Sets + "/kbl-hot/status")]
    public async Task A_path_the_double_does_not_serve_is_404_and_rejected(string path)
    {
        using var response = await _http.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Single(_api.Rejected);
    }

    [Fact]
    public async Task A_scale_patch_needs_a_patch_media_type()
    {
        using var content = new StringContent("{\"spec\":{\"replicas\":4}}", Encoding.UTF8, "application/json");
        using var response = await _http.PatchAsync(new Uri(Sets + "/kbl-hot/scale", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal(3, _api.Get("kbl", "kbl-hot")!.Spec.Replicas);
    }

    [Fact]
    public async Task The_scale_subresource_speaks_autoscaling_v1_and_takes_every_patch_type_and_a_put()
    {
        var scale = await _client.AppsV1.ReadNamespacedStatefulSetScaleAsync("kbl-hot", "kbl");
        Assert.Equal(("autoscaling/v1", "Scale", 3), (scale.ApiVersion, scale.Kind, scale.Spec.Replicas));
        Assert.Contains("kbl/node-group=hot", scale.Status.Selector, StringComparison.Ordinal);

        await _client.AppsV1.PatchNamespacedStatefulSetScaleAsync(new V1Patch("{\"spec\":{\"replicas\":4}}", V1Patch.PatchType.StrategicMergePatch), "kbl-hot", "kbl");
        Assert.Equal(4, _api.Get("kbl", "kbl-hot")!.Spec.Replicas);
        await _client.AppsV1.PatchNamespacedStatefulSetScaleAsync(new V1Patch("[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":5}]", V1Patch.PatchType.JsonPatch), "kbl-hot", "kbl");
        Assert.Equal(5, _api.Get("kbl", "kbl-hot")!.Spec.Replicas);

        var current = await _client.AppsV1.ReadNamespacedStatefulSetScaleAsync("kbl-hot", "kbl");
        current.Spec.Replicas = 6;
        await _client.AppsV1.ReplaceNamespacedStatefulSetScaleAsync(current, "kbl-hot", "kbl");
        Assert.Equal(6, _api.Get("kbl", "kbl-hot")!.Spec.Replicas);

        // A PUT of a stale Scale conflicts, as optimistic concurrency on resourceVersion does.
        current.Spec.Replicas = 7;
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => _client.AppsV1.ReplaceNamespacedStatefulSetScaleAsync(current, "kbl-hot", "kbl"));
        Assert.Equal(HttpStatusCode.Conflict, stale.Response.StatusCode);
        Assert.Equal(6, _api.Get("kbl", "kbl-hot")!.Spec.Replicas);
        Assert.Empty(_api.Rejected);
    }

    [Fact]
    public async Task A_scale_patch_that_is_not_a_replica_count_is_rejected()
    {
        foreach (var body in new[] { "{\"spec\":{\"replicas\":-1}}", "{\"spec\":{\"replicas\":\"3\"}}", "{\"kind\":\"Deployment\"}", "[1]" })
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/merge-patch+json");
            using var response = await _http.PatchAsync(new Uri(Sets + "/kbl-hot/scale", UriKind.Relative), content);
            Assert.False(response.IsSuccessStatusCode, body);
        }

        Assert.Equal(4, _api.Rejected.Count);
        Assert.Equal(3, _api.Get("kbl", "kbl-hot")!.Spec.Replicas);
    }

    /// <summary>The example overlay's hot group as the double's test object: named kbl-hot, at 3 replicas (as the Provisioner would have set it).</summary>
    private static V1StatefulSet Hot()
    {
        var set = KubernetesJson.Deserialize<V1StatefulSet>(KubernetesJson.Serialize(Manifests.ExampleResources.Named<V1StatefulSet>("kbl-hot-us-east-1a")));
        set.Metadata.Name = "kbl-hot";
        set.Spec.Replicas = 3;
        return set;
    }
}
