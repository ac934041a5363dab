using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Kbl.Tests.Process;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// A test double of the Kubernetes API server: no API server (nor kind, k3s, envtest) can run on the machines these
/// tests run on, so this small HTTP server on 127.0.0.1 stands in for the part of it the Provisioner calls, holding
/// StatefulSets in memory.
/// </summary>
/// <remarks>
/// <para>It serves exactly these endpoints of <c>apps/v1</c>, with the wire format of the real API:
/// GET (list) and POST (create) <c>/apis/apps/v1/namespaces/{ns}/statefulsets</c>; GET and DELETE
/// <c>…/statefulsets/{name}</c>; GET, PATCH and PUT <c>…/statefulsets/{name}/scale</c>. It checks what a real server
/// checks and a client could get wrong: the media type (<c>application/json</c> for POST and PUT;
/// <c>application/merge-patch+json</c>, <c>application/strategic-merge-patch+json</c> or
/// <c>application/json-patch+json</c> for PATCH), the body's <c>apiVersion</c> and <c>kind</c> (<c>apps/v1</c>
/// StatefulSet, <c>autoscaling/v1</c> Scale), no <c>resourceVersion</c> on a create, a namespace that agrees with the
/// path, a selector that matches the pod template, and a current <c>resourceVersion</c> on a PUT. Errors are
/// Kubernetes <c>Status</c> objects: 404 NotFound, 409 AlreadyExists or Conflict, 400, 405, 415, 422.</para>
/// <para>What the real API would refuse lands in <see cref="Rejected"/> as well as in <see cref="Calls"/>, so a test
/// asserts it is empty: an unexpected call fails the test. A 404 for a missing object and a 409 for a duplicate are
/// the API's ordinary answers, not rejections.</para>
/// <para>It runs no controller: a StatefulSet's status changes only through <see cref="SetReadyReplicas"/>, as when
/// pods come up. Requests are handled one at a time.</para>
/// <para>For the targeted scale-in it also serves <c>GET /api/v1/namespaces/{ns}/pods/{name}</c>, and
/// <c>GET</c>/<c>PATCH</c> (merge patch) <c>/api/v1/nodes/{name}</c>, of nodes a test adds (<see cref="AddNode"/>). Pods
/// exist only for StatefulSets a test hands to <see cref="RunPods"/>, which then plays the StatefulSet controller and
/// the kubelet for them: pods <c>0…replicas-1</c> run on the nodes the test names and count as ready; a pod above the
/// replicas is terminating (draining) for one more read, then gone.</para>
/// </remarks>
public sealed class KubernetesApiDouble : IDisposable
{
    private const string Prefix = "/apis/apps/v1/namespaces/";

    private static readonly string[] PatchTypes =
    [
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/json-patch+json",
    ];

    private readonly LoopbackHttpServer _server;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Namespace, string Name), JsonObject> _sets = [];
    private readonly Dictionary<(string Namespace, string Name), JsonObject> _pods = [];
    private readonly Dictionary<string, JsonObject> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Namespace, string Set), Func<int, string?>> _podControllers = [];
    private readonly List<ApiCall> _calls = [];
    private long _resourceVersion = 1000;

    public KubernetesApiDouble()
    {
        // One request after the other, as the double's state changes are easiest to reason about in order.
        _server = new LoopbackHttpServer(Handle, concurrent: false);
    }

    /// <summary>One request as it arrived and the status it got; <see cref="Order"/> places it among the AWS calls (<see cref="CallOrder"/>).</summary>
    public sealed record ApiCall(string Method, string Path, string? ContentType, string? Body, int Status, string? Rejection)
    {
        public long Order { get; init; } = CallOrder.Next();

        public override string ToString() => $"{Method} {Path} ({ContentType}) -> {Status}{(Rejection is null ? "" : ": " + Rejection)}";
    }

    public Uri Url => _server.Url;

    /// <summary>A client configuration that talks to this double.</summary>
    public KubernetesClientConfiguration Configuration => new() { Host = Url.ToString() };

    /// <summary>Every request so far, in order.</summary>
    public IReadOnlyList<ApiCall> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>The requests a real API server would have refused as malformed or unsupported.</summary>
    public IReadOnlyList<ApiCall> Rejected => [.. Calls.Where(c => c.Rejection is not null)];

    /// <summary>The requests that changed something or tried to (anything but GET).</summary>
    public IReadOnlyList<ApiCall> Writes => [.. Calls.Where(c => c.Method != "GET")];

    /// <summary>Stores <paramref name="set"/> as if it had been applied (kubectl apply): with server fields and a status.</summary>
    public void Put(V1StatefulSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var node = JsonNode.Parse(KubernetesJson.Serialize(set))!.AsObject();
        var ns = (string?)node["metadata"]?["namespace"] ?? "default";
        node["metadata"]!["namespace"] = ns;
        lock (_gate)
        {
            Stamp(node);
            node["metadata"]!["annotations"] ??= new JsonObject();
            node["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"] = KubernetesJson.Serialize(set);
            _sets[(ns, (string)node["metadata"]!["name"]!)] = node;
        }
    }

    /// <summary>The stored StatefulSet, or null.</summary>
    public V1StatefulSet? Get(string ns, string name)
    {
        lock (_gate)
        {
            return _sets.TryGetValue((ns, name), out var node) ? KubernetesJson.Deserialize<V1StatefulSet>(node.ToJsonString()) : null;
        }
    }

    /// <summary>The names of the stored StatefulSets of <paramref name="ns"/>.</summary>
    public IReadOnlyList<string> Names(string ns)
    {
        lock (_gate)
        {
            return [.. _sets.Keys.Where(k => k.Namespace == ns).Select(k => k.Name).Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Sets a StatefulSet's ready (and current) replicas, as its controller does when pods come up.</summary>
    public void SetReadyReplicas(string ns, string name, int ready)
    {
        lock (_gate)
        {
            var node = _sets[(ns, name)];
            var status = node["status"] as JsonObject ?? [];
            status["replicas"] = ready;
            status["readyReplicas"] = ready;
            status["availableReplicas"] = ready;
            node["status"] = status;
            node["metadata"]!["resourceVersion"] = NextVersion();
        }
    }

    /// <summary>Adds a node as EKS registers one: its <c>spec.providerID</c> (<c>aws:///ZONE/INSTANCE</c>) and zone and group labels.</summary>
    public void AddNode(string name, string zone, string instanceId, string eksNodeGroup)
    {
        lock (_gate)
        {
            var node = new JsonObject
            {
                ["apiVersion"] = "v1",
                ["kind"] = "Node",
                ["metadata"] = new JsonObject
                {
                    ["name"] = name,
                    ["labels"] = new JsonObject
                    {
                        ["topology.kubernetes.io/zone"] = zone,
                        ["eks.amazonaws.com/nodegroup"] = eksNodeGroup,
                        ["kubernetes.io/hostname"] = name,
                    },
                },
                ["spec"] = new JsonObject { ["providerID"] = $"aws:///{zone}/{instanceId}" },
                ["status"] = new JsonObject(),
            };
            Stamp(node);
            node["status"] = new JsonObject();
            _nodes[name] = node;
        }
    }

    /// <summary>Whether the node is cordoned (<c>spec.unschedulable</c>).</summary>
    public bool IsCordoned(string node)
    {
        lock (_gate)
        {
            return (bool?)_nodes[node]["spec"]?["unschedulable"] == true;
        }
    }

    /// <summary>The pods of a StatefulSet and their nodes, by ordinal (terminating ones included).</summary>
    public IReadOnlyDictionary<int, string> PodNodes(string ns, string set)
    {
        lock (_gate)
        {
            return _pods.Where(p => p.Key.Namespace == ns && (string?)p.Value["metadata"]!["labels"]!["statefulset.kubernetes.io/set"] == set)
                .ToDictionary(p => int.Parse((string)p.Value["metadata"]!["labels"]!["apps.kubernetes.io/pod-index"]!, CultureInfo.InvariantCulture), p => (string)p.Value["spec"]!["nodeName"]!);
        }
    }

    /// <summary>
    /// Plays the StatefulSet controller and kubelet for <paramref name="set"/> (now and whenever it is created or scaled):
    /// pod <c>i</c> below the replicas runs on node <paramref name="nodeOf"/>(i) and is ready; one above them drains and goes.
    /// </summary>
    public void RunPods(string ns, string set, Func<int, string?> nodeOf)
    {
        lock (_gate)
        {
            _podControllers[(ns, set)] = nodeOf;
            if (_sets.TryGetValue((ns, set), out var node))
            {
                Reconcile(ns, set, node);
            }
        }
    }

    public void Dispose() => _server.DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task Handle(HttpListenerContext context)
    {
        var request = context.Request;
        string? body = null;
        if (request.HasEntityBody)
        {
            using var reader = new StreamReader(request.InputStream, Encoding.UTF8);
            body = await reader.ReadToEndAsync();
        }

        var path = request.Url!.AbsolutePath;
        Answer answer;
        lock (_gate)
        {
            try
            {
                answer = Route(request.HttpMethod, path, request.ContentType, body);
            }
            catch (Exception e)
            {
                // A bug in the double, or a body it did not expect: an answer, and a rejection the test sees.
                answer = Reject(HttpStatusCode.InternalServerError, "InternalError", $"the double failed: {e}");
            }

            _calls.Add(new ApiCall(request.HttpMethod, path, request.ContentType, body, (int)answer.Status, answer.Rejection));
        }

        var bytes = Encoding.UTF8.GetBytes(answer.Body.ToJsonString());
        context.Response.StatusCode = (int)answer.Status;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength64 = bytes.Length;
        await context.Response.OutputStream.WriteAsync(bytes);
        context.Response.Close();
    }

    private Answer Route(string method, string path, string? contentType, string? body)
    {
        if (path.StartsWith("/api/v1/", StringComparison.Ordinal))
        {
            return CoreRoute(method, path["/api/v1/".Length..].Split('/'), contentType, body);
        }

        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return Reject(HttpStatusCode.NotFound, "NotFound", $"the double serves only {Prefix}…, not {path}");
        }

        var parts = path[Prefix.Length..].Split('/');
        if (parts.Length < 2 || parts.Length > 4 || parts[1] != "statefulsets" || parts.Any(p => p.Length == 0) || (parts.Length == 4 && parts[3] != "scale"))
        {
            return Reject(HttpStatusCode.NotFound, "NotFound", $"the double serves only statefulsets and their scale subresource, not {path}");
        }

        var ns = parts[0];
        return (parts.Length, method) switch
        {
            (2, "GET") => List(ns),
            (2, "POST") => Create(ns, contentType, body),
            (3, "GET") => Found(ns, parts[2], out var set) ? Ok(set.DeepClone().AsObject()) : NotFound(parts[2]),
            (3, "DELETE") => Delete(ns, parts[2], contentType, body),
            (4, "GET") => Found(ns, parts[2], out var set) ? Ok(Scale(set)) : NotFound(parts[2]),
            (4, "PATCH") => PatchScale(ns, parts[2], contentType, body),
            (4, "PUT") => ReplaceScale(ns, parts[2], contentType, body),
            _ => Reject(HttpStatusCode.MethodNotAllowed, "MethodNotAllowed", $"the double does not serve {method} {path}"),
        };
    }

    /// <summary><c>/api/v1/namespaces/{ns}/pods/{name}</c> (GET) and <c>/api/v1/nodes/{name}</c> (GET, PATCH).</summary>
    private Answer CoreRoute(string method, string[] parts, string? contentType, string? body)
    {
        switch (parts, method)
        {
            case (["namespaces", var ns, "pods", var name], "GET"):
                if (!_pods.TryGetValue((ns, name), out var pod))
                {
                    return Missing("pods", name);
                }

                if (pod["metadata"]?["deletionTimestamp"] is not null && (int)pod["status"]!["readsLeft"]! <= 0)
                {
                    // It drained and exited: the kubelet removed it.
                    _pods.Remove((ns, name));
                    return Missing("pods", name);
                }

                if (pod["metadata"]?["deletionTimestamp"] is not null)
                {
                    pod["status"]!["readsLeft"] = (int)pod["status"]!["readsLeft"]! - 1;
                }

                return Ok(pod.DeepClone().AsObject());
            case (["nodes", var name], "GET"):
                return _nodes.TryGetValue(name, out var node) ? Ok(node.DeepClone().AsObject()) : Missing("nodes", name);
            case (["nodes", var name], "PATCH"):
                if (MediaType(contentType) != "application/merge-patch+json")
                {
                    return Reject(HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType", $"the double patches nodes with merge patches only, got '{contentType}'");
                }

                if (!_nodes.TryGetValue(name, out var current))
                {
                    return Missing("nodes", name);
                }

                if (JsonNode.Parse(body ?? "") is not JsonObject patch || patch.Any(p => p.Key != "spec") || patch["spec"] is not JsonObject spec || spec.Any(p => p.Key != "unschedulable"))
                {
                    return Reject(HttpStatusCode.UnprocessableEntity, "Invalid", "the double lets the Provisioner change spec.unschedulable of a node and nothing else");
                }

                var patched = MergePatch(current, patch)!.AsObject();
                patched["metadata"]!["resourceVersion"] = NextVersion();
                _nodes[name] = patched;
                return Ok(patched.DeepClone().AsObject());
            default:
                return Reject(HttpStatusCode.NotFound, "NotFound", $"the double serves only pods (GET) and nodes (GET, PATCH) of the core API, not {method} /api/v1/{string.Join('/', parts)}");
        }
    }

    /// <summary>The StatefulSet controller and kubelet for a set handed to <see cref="RunPods"/>: pods up to the replicas, ready; those above, terminating.</summary>
    private void Reconcile(string ns, string name, JsonObject set)
    {
        if (!_podControllers.TryGetValue((ns, name), out var nodeOf))
        {
            return;
        }

        var replicas = (int)(Number(set["spec"]?["replicas"]) ?? 1);
        var ready = 0;
        for (var ordinal = 0; ordinal < Math.Max(replicas, 64); ordinal++)
        {
            var podName = string.Create(CultureInfo.InvariantCulture, $"{name}-{ordinal}");
            var exists = _pods.TryGetValue((ns, podName), out var pod);
            if (ordinal < replicas)
            {
                if (!exists && nodeOf(ordinal) is { } node)
                {
                    pod = new JsonObject
                    {
                        ["apiVersion"] = "v1",
                        ["kind"] = "Pod",
                        ["metadata"] = new JsonObject
                        {
                            ["name"] = podName,
                            ["namespace"] = ns,
                            ["labels"] = new JsonObject { ["statefulset.kubernetes.io/set"] = name, ["apps.kubernetes.io/pod-index"] = ordinal.ToString(CultureInfo.InvariantCulture) },
                        },
                        ["spec"] = new JsonObject { ["nodeName"] = node, ["containers"] = new JsonArray(new JsonObject { ["name"] = "silo", ["image"] = "kbl-silo" }) },
                        ["status"] = new JsonObject { ["phase"] = "Running" },
                    };
                    Stamp(pod);
                    pod["status"] = new JsonObject { ["phase"] = "Running" };
                    _pods[(ns, podName)] = pod;
                    exists = true;
                }

                ready += exists ? 1 : 0;
            }
            else if (exists && pod!["metadata"]?["deletionTimestamp"] is null)
            {
                // SIGTERM: the silo drains; the pod is still there for one more read, then gone.
                pod["metadata"]!["deletionTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
                pod["status"]!["readsLeft"] = 1;
            }
        }

        var status = set["status"] as JsonObject ?? [];
        status["replicas"] = ready;
        status["readyReplicas"] = ready;
        status["availableReplicas"] = ready;
        set["status"] = status;
    }

    private static Answer Missing(string resource, string name)
    {
        var answer = Failure(HttpStatusCode.NotFound, "NotFound", $"{resource} \"{name}\" not found", name);
        answer.Body["details"] = new JsonObject { ["name"] = name, ["kind"] = resource };
        return answer;
    }

    private Answer List(string ns) => Ok(new JsonObject
    {
        ["apiVersion"] = "apps/v1",
        ["kind"] = "StatefulSetList",
        ["metadata"] = new JsonObject { ["resourceVersion"] = _resourceVersion.ToString(CultureInfo.InvariantCulture) },
        ["items"] = new JsonArray([.. _sets.Where(s => s.Key.Namespace == ns).OrderBy(s => s.Key.Name, StringComparer.Ordinal).Select(s => (JsonNode)s.Value.DeepClone())]),
    });

    private Answer Create(string ns, string? contentType, string? body)
    {
        if (CheckJson(contentType, body, "apps/v1", "StatefulSet", out var set) is { } bad)
        {
            return bad;
        }

        var metadata = set["metadata"] as JsonObject;
        var name = (string?)metadata?["name"];
        if (string.IsNullOrEmpty(name))
        {
            return Reject(HttpStatusCode.UnprocessableEntity, "Invalid", "metadata.name: Required value");
        }

        if ((string?)metadata!["namespace"] is { } bodyNamespace && bodyNamespace != ns)
        {
            return Reject(HttpStatusCode.BadRequest, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
        }

        if (metadata["resourceVersion"] is not null)
        {
            return Reject(HttpStatusCode.BadRequest, "BadRequest", "resourceVersion should not be set on objects to be created");
        }

        var selector = set["spec"]?["selector"]?["matchLabels"] as JsonObject;
        var labels = set["spec"]?["template"]?["metadata"]?["labels"] as JsonObject;
        if (selector is not { Count: > 0 } || labels is null || selector.Any(l => !JsonNode.DeepEquals(labels[l.Key], l.Value)))
        {
            return Reject(HttpStatusCode.UnprocessableEntity, "Invalid", "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`");
        }

        if (set["spec"]?["template"]?["spec"]?["containers"] is not JsonArray { Count: > 0 })
        {
            return Reject(HttpStatusCode.UnprocessableEntity, "Invalid", "spec.template.spec.containers: Required value");
        }

        if (_sets.ContainsKey((ns, name)))
        {
            return Failure(HttpStatusCode.Conflict, "AlreadyExists", $"statefulsets.apps \"{name}\" already exists", name);
        }

        metadata["namespace"] = ns;
        set.Remove("status");
        Stamp(set);
        _sets[(ns, name)] = set;
        Reconcile(ns, name, set);
        return new Answer(HttpStatusCode.Created, set.DeepClone().AsObject(), null);
    }

    private Answer Delete(string ns, string name, string? contentType, string? body)
    {
        if (body is not null && CheckJson(contentType, body, "v1", "DeleteOptions", out _) is { } bad)
        {
            return bad;
        }

        if (!_sets.Remove((ns, name), out var set))
        {
            return NotFound(name);
        }

        return Ok(new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Success",
            ["details"] = new JsonObject { ["name"] = name, ["group"] = "apps", ["kind"] = "statefulsets", ["uid"] = set["metadata"]!["uid"]!.DeepClone() },
        });
    }

    private Answer PatchScale(string ns, string name, string? contentType, string? body)
    {
        var mediaType = MediaType(contentType);
        if (mediaType is null || !PatchTypes.Contains(mediaType))
        {
            return Reject(HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: {string.Join(", ", PatchTypes)}");
        }

        if (!Found(ns, name, out var set))
        {
            return NotFound(name);
        }

        JsonNode? patch;
        try
        {
            patch = JsonNode.Parse(body ?? "");
        }
        catch (System.Text.Json.JsonException e)
        {
            return Reject(HttpStatusCode.BadRequest, "BadRequest", $"the patch is not JSON: {e.Message}");
        }

        var scale = Scale(set);
        JsonNode? patched;
        if (mediaType == "application/json-patch+json")
        {
            if (patch is not JsonArray operations || !TryJsonPatch(scale, operations, out patched))
            {
                return Reject(HttpStatusCode.UnprocessableEntity, "Invalid", "the double applies JSON patches that add, replace or test /spec/replicas only");
            }
        }
        else
        {
            if (patch is not JsonObject)
            {
                return Reject(HttpStatusCode.BadRequest, "BadRequest", "a merge patch must be a JSON object");
            }

            // A Scale has no lists, so a strategic merge patch of it is a JSON merge patch (RFC 7386).
            patched = MergePatch(scale, patch);
        }

        return ApplyScale(name, set, scale, patched!.AsObject());
    }

    private Answer ReplaceScale(string ns, string name, string? contentType, string? body)
    {
        if (CheckJson(contentType, body, "autoscaling/v1", "Scale", out var scale) is { } bad)
        {
            return bad;
        }

        if (!Found(ns, name, out var set))
        {
            return NotFound(name);
        }

        if ((string?)scale["metadata"]?["name"] != name)
        {
            return Reject(HttpStatusCode.BadRequest, "BadRequest", "the name of the object does not match the name on the URL");
        }

        if ((string?)scale["metadata"]?["resourceVersion"] is { } version && version != (string?)set["metadata"]!["resourceVersion"])
        {
            return Failure(HttpStatusCode.Conflict, "Conflict", $"Operation cannot be fulfilled on statefulsets.apps \"{name}\": the object has been modified; please apply your changes to the latest version and try again", name);
        }

        return ApplyScale(name, set, Scale(set), scale);
    }

    private Answer ApplyScale(string name, JsonObject set, JsonObject before, JsonObject after)
    {
        if ((string?)after["apiVersion"] is not (null or "autoscaling/v1") || (string?)after["kind"] is not (null or "Scale") ||
            (string?)after["metadata"]?["name"] is not { } afterName || afterName != name)
        {
            return Reject(HttpStatusCode.BadRequest, "BadRequest", "a Scale must stay autoscaling/v1 Scale of the same object");
        }

        if (Number(after["spec"]?["replicas"]) is not { } replicas || replicas < 0 || replicas > int.MaxValue)
        {
            return Reject(HttpStatusCode.UnprocessableEntity, "Invalid", "spec.replicas: Invalid value: must be a non-negative integer");
        }

        if (Number(before["spec"]?["replicas"]) != replicas)
        {
            set["spec"]!["replicas"] = replicas;
            set["metadata"]!["generation"] = (Number(set["metadata"]!["generation"]) ?? 0) + 1;
            set["metadata"]!["resourceVersion"] = NextVersion();
            Reconcile((string)set["metadata"]!["namespace"]!, name, set);
        }

        return Ok(Scale(set));
    }

    private static bool TryJsonPatch(JsonObject scale, JsonArray operations, out JsonNode? patched)
    {
        patched = scale.DeepClone();
        foreach (var operation in operations.OfType<JsonObject>())
        {
            var op = (string?)operation["op"];
            if ((string?)operation["path"] != "/spec/replicas" || op is not ("add" or "replace" or "test"))
            {
                return false;
            }

            if (op == "test")
            {
                if (!JsonNode.DeepEquals(patched["spec"]?["replicas"], operation["value"]))
                {
                    return false;
                }

                continue;
            }

            patched["spec"]!["replicas"] = operation["value"]?.DeepClone();
        }

        return operations.Count > 0;
    }

    private static JsonNode? MergePatch(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchMap)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject map ? map.DeepClone().AsObject() : [];
        foreach (var (key, value) in patchMap)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = MergePatch(result[key], value);
            }
        }

        return result;
    }

    private static JsonObject Scale(JsonObject set)
    {
        var metadata = set["metadata"]!;
        var selector = set["spec"]?["selector"]?["matchLabels"] as JsonObject ?? [];
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = metadata["name"]!.DeepClone(),
                ["namespace"] = metadata["namespace"]!.DeepClone(),
                ["uid"] = metadata["uid"]!.DeepClone(),
                ["resourceVersion"] = metadata["resourceVersion"]!.DeepClone(),
                ["creationTimestamp"] = metadata["creationTimestamp"]!.DeepClone(),
            },
            ["spec"] = new JsonObject { ["replicas"] = Number(set["spec"]?["replicas"]) ?? 1 },
            ["status"] = new JsonObject
            {
                ["replicas"] = Number(set["status"]?["replicas"]) ?? 0,
                ["selector"] = string.Join(",", selector.Select(l => $"{l.Key}={(string?)l.Value}")),
            },
        };
    }

    /// <summary>An integer however the node holds it (parsed, or set from an int or a long); null for anything else.</summary>
    private static long? Number(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<long>(out var number) => number,
        JsonValue value when value.TryGetValue<int>(out var number) => number,
        _ => null,
    };

    private static string? MediaType(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType : null;

    private static Answer Ok(JsonObject body) => new(HttpStatusCode.OK, body, null);

    private static Answer NotFound(string name) =>
        Failure(HttpStatusCode.NotFound, "NotFound", $"statefulsets.apps \"{name}\" not found", name);

    private static Answer Reject(HttpStatusCode status, string reason, string message) =>
        Failure(status, reason, message, null) with { Rejection = message };

    private static Answer Failure(HttpStatusCode status, string reason, string message, string? name)
    {
        var body = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason,
            ["code"] = (int)status,
        };
        if (name is not null)
        {
            body["details"] = new JsonObject { ["name"] = name, ["group"] = "apps", ["kind"] = "statefulsets" };
        }

        return new Answer(status, body, null);
    }

    private static Answer? CheckJson(string? contentType, string? body, string apiVersion, string kind, out JsonObject value)
    {
        value = [];
        if (MediaType(contentType) != "application/json")
        {
            return Reject(HttpStatusCode.UnsupportedMediaType, "UnsupportedMediaType", $"expected a body of application/json, got '{contentType}'");
        }

        try
        {
            value = JsonNode.Parse(body ?? "") as JsonObject ?? throw new System.Text.Json.JsonException("not an object");
        }
        catch (System.Text.Json.JsonException e)
        {
            return Reject(HttpStatusCode.BadRequest, "BadRequest", $"the body is not a JSON object: {e.Message}");
        }

        return (string?)value["apiVersion"] == apiVersion && (string?)value["kind"] == kind
            ? null
            : Reject(HttpStatusCode.BadRequest, "BadRequest", $"expected {apiVersion} {kind}, got {(string?)value["apiVersion"]} {(string?)value["kind"]}");
    }

    private bool Found(string ns, string name, out JsonObject set) => _sets.TryGetValue((ns, name), out set!);

    /// <summary>The fields the API server owns, as on a freshly created object.</summary>
    private void Stamp(JsonObject set)
    {
        var metadata = set["metadata"]!.AsObject();
        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["resourceVersion"] = NextVersion();
        metadata["generation"] = 1;
        metadata["creationTimestamp"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        metadata["managedFields"] = new JsonArray(new JsonObject { ["manager"] = "kubectl", ["operation"] = "Apply", ["apiVersion"] = "apps/v1" });
        set["status"] = new JsonObject { ["replicas"] = 0, ["availableReplicas"] = 0, ["observedGeneration"] = 1 };
    }

    private string NextVersion() => (++_resourceVersion).ToString(CultureInfo.InvariantCulture);

    private sealed record Answer(HttpStatusCode Status, JsonObject Body, string? Rejection);
}
