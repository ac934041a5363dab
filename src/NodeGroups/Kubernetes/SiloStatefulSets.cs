using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.NodeGroups.Kubernetes;

/// <summary>
/// The silo StatefulSets of the node groups, one per group, in <see cref="KubernetesOptions.Namespace"/>, named and
/// labelled as the overlays name theirs (k8s/overlays/example/groups/hot: <c>kbl</c> with the suffix <c>-hot</c>, the
/// label <c>kbl/node-group: hot</c> on the set, its selector, its pod template and its volume claim templates), so a
/// group deployed from an overlay and a group the Provisioner created are handled alike.
/// </summary>
/// <remarks>
/// <para>A missing group's StatefulSet is a copy of <see cref="KubernetesOptions.TemplateStatefulSet"/> (in the example
/// overlay <c>kbl-hot</c>): its image, probes, volumes and claim templates, with the group's name, group label,
/// <c>eks.amazonaws.com/nodegroup</c> node selector and literal <c>Kbl__NodeGroup</c> in the silo container. Anything
/// else the template pins is kept, so the template should be a group that takes its zone from the pod (a group pinned
/// to one zone would pin the copy to that zone too).</para>
/// <para>Level-triggered like its caller: each call reads first and writes only a difference.</para>
/// </remarks>
public sealed partial class SiloStatefulSets : ISiloStatefulSets
{
    /// <summary>A group's StatefulSet is this prefix and the group's name (<c>kbl-hot</c>).</summary>
    public const string NamePrefix = "kbl-";

    /// <summary>The label that tells the groups' silos apart (selectors, topology spread).</summary>
    public const string NodeGroupLabel = "kbl/node-group";

    /// <summary>The label EKS puts on a managed node group's nodes.</summary>
    public const string EksNodeGroupLabel = "eks.amazonaws.com/nodegroup";

    /// <summary>The label that tells the zones of a zonal group apart (selectors): one StatefulSet per zone.</summary>
    public const string ZoneLabel = "kbl/zone";

    /// <summary>The well-known node label of a node's zone.</summary>
    public const string TopologyZoneLabel = "topology.kubernetes.io/zone";

    /// <summary>The environment variable the silo reads its node group from (Kbl:NodeGroup).</summary>
    public const string NodeGroupVariable = "Kbl__NodeGroup";

    /// <summary>The environment variable the silo reads its zone from (Kbl:Zone).</summary>
    public const string ZoneVariable = "Kbl__Zone";

    /// <summary>The pod's Kbl silo container.</summary>
    public const string SiloContainer = "silo";

    /// <summary>Marks the StatefulSets this class created (not used to select them).</summary>
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";

    /// <summary>The value of <see cref="ManagedByLabel"/>.</summary>
    public const string ManagedBy = "kbl-provisioner";

    // A StatefulSet's pods carry the label controller-revision-hash = NAME-HASH (at most 63 characters, the hash up
    // to 10 and a dash): longer StatefulSet names are accepted and then fail to create pods.
    private const int MaxNameLength = 52;

    private const string LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

    private readonly IKubernetes _kubernetes;
    private readonly string _namespace;
    private readonly string _template;
    private readonly ILogger<SiloStatefulSets> _logger;

    /// <summary>
    /// The StatefulSets reached through <paramref name="kubernetes"/> (in a pod: <see cref="InClusterClient"/>), in the
    /// namespace and with the template of <see cref="ProvisioningOptions.Kubernetes"/>.
    /// </summary>
    public SiloStatefulSets(IKubernetes kubernetes, IOptions<ProvisioningOptions> options, ILogger<SiloStatefulSets> logger)
    {
        ArgumentNullException.ThrowIfNull(kubernetes);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var settings = options.Value.Kubernetes;
        ArgumentException.ThrowIfNullOrWhiteSpace(settings.Namespace, "Kbl:Provisioning:Kubernetes:Namespace");
        ArgumentException.ThrowIfNullOrWhiteSpace(settings.TemplateStatefulSet, "Kbl:Provisioning:Kubernetes:TemplateStatefulSet");
        _kubernetes = kubernetes;
        _namespace = settings.Namespace;
        _template = settings.TemplateStatefulSet;
        _logger = logger;
    }

    /// <summary>A client of the API server of the pod this runs in (its service account's token and CA).</summary>
    /// <remarks>Outside a pod (a Provisioner run by hand, a test), the kubeconfig of <c>KUBECONFIG</c> or <c>~/.kube/config</c>.</remarks>
    public static IKubernetes InClusterClient() => new k8s.Kubernetes(
        KubernetesClientConfiguration.IsInCluster() ? KubernetesClientConfiguration.InClusterConfig() : KubernetesClientConfiguration.BuildDefaultConfig());

    /// <summary>The StatefulSet of <paramref name="nodeGroup"/>; throws when the group's name cannot make one.</summary>
    public static string StatefulSetName(string nodeGroup)
    {
        ArgumentNullException.ThrowIfNull(nodeGroup);
        var name = NamePrefix + nodeGroup;
        return DnsLabel().IsMatch(nodeGroup) && name.Length <= MaxNameLength
            ? name
            : throw new ArgumentException(
                $"node group '{nodeGroup}' cannot name a StatefulSet: it must be a-z, 0-9 and '-', start and end with a letter or digit, and be at most {MaxNameLength - NamePrefix.Length} characters",
                nameof(nodeGroup));
    }

    /// <summary>The StatefulSet of a group across zones (<see cref="SiloGroup.Across"/>).</summary>
    public Task<int> Scale(string nodeGroup, int replicas, CancellationToken cancellationToken) =>
        Scale(SiloGroup.Across(nodeGroup), replicas, cancellationToken);

    /// <inheritdoc />
    public async Task<int> Scale(SiloGroup group, int replicas, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        var name = group.StatefulSetName;
        var set = await Read(name, cancellationToken).ConfigureAwait(false);
        if (set is null)
        {
            if (await Create(group, name, replicas, cancellationToken).ConfigureAwait(false) is { } created)
            {
                return created.Status?.ReadyReplicas ?? 0;
            }

            // Someone else created it between the read and the create: go on with theirs.
            set = await Read(name, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"StatefulSet {_namespace}/{name} was reported to exist and then not found");
        }

        // The API's default for a missing spec.replicas is 1.
        var current = set.Spec?.Replicas ?? 1;
        if (current != replicas)
        {
            var patch = new V1Patch(
                string.Create(CultureInfo.InvariantCulture, $$$"""{"spec":{"replicas":{{{replicas}}}}}"""),
                V1Patch.PatchType.MergePatch);
            await _kubernetes.AppsV1.PatchNamespacedStatefulSetScaleAsync(patch, name, _namespace, cancellationToken: cancellationToken)
                .ConfigureAwait(false);
            LogScaled(_logger, _namespace, name, current, replicas);
        }

        return set.Status?.ReadyReplicas ?? 0;
    }

    /// <summary>The StatefulSet of a group across zones (<see cref="SiloGroup.Across"/>).</summary>
    public Task Remove(string nodeGroup, CancellationToken cancellationToken) => Remove(SiloGroup.Across(nodeGroup), cancellationToken);

    /// <inheritdoc />
    /// <remarks>The template StatefulSet is never deleted (new groups are copied from it): it is left at its replicas.</remarks>
    public async Task Remove(SiloGroup group, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        var name = group.StatefulSetName;
        if (name == _template)
        {
            LogTemplateKept(_logger, _namespace, name);
            return;
        }

        try
        {
            await _kubernetes.AppsV1.DeleteNamespacedStatefulSetAsync(name, _namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
            LogRemoved(_logger, _namespace, name);
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            // Already gone: what was asked for.
        }
    }

    /// <inheritdoc />
    /// <remarks>Reads the pod (<c>{set}-{ordinal}</c>) for its node, and the node for its <c>spec.providerID</c>
    /// (<c>aws:///us-east-1a/i-0123…</c> on EKS: zone and instance id).</remarks>
    public async Task<SiloNode?> NodeOf(SiloGroup group, int ordinal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentOutOfRangeException.ThrowIfNegative(ordinal);
        var podName = string.Create(CultureInfo.InvariantCulture, $"{group.StatefulSetName}-{ordinal}");
        V1Pod pod;
        try
        {
            pod = await _kubernetes.CoreV1.ReadNamespacedPodAsync(podName, _namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }

        if (pod.Spec?.NodeName is not { Length: > 0 } nodeName)
        {
            return null;
        }

        var node = await _kubernetes.CoreV1.ReadNodeAsync(nodeName, cancellationToken: cancellationToken).ConfigureAwait(false);
        var (zone, instance) = ParseProviderId(node.Spec?.ProviderID);
        return new SiloNode(podName, nodeName, instance, zone ?? Label(node.Metadata?.Labels, TopologyZoneLabel));
    }

    /// <inheritdoc />
    public async Task Cordon(string node, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(node);
        var current = await _kubernetes.CoreV1.ReadNodeAsync(node, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (current.Spec?.Unschedulable == true)
        {
            return;
        }

        var patch = new V1Patch("""{"spec":{"unschedulable":true}}""", V1Patch.PatchType.MergePatch);
        await _kubernetes.CoreV1.PatchNodeAsync(patch, node, cancellationToken: cancellationToken).ConfigureAwait(false);
        LogCordoned(_logger, node);
    }

    /// <inheritdoc />
    public async Task<bool> IsGone(SiloGroup group, int ordinal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(group);
        var podName = string.Create(CultureInfo.InvariantCulture, $"{group.StatefulSetName}-{ordinal}");
        try
        {
            await _kubernetes.CoreV1.ReadNamespacedPodAsync(podName, _namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
            return false;
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            return true;
        }
    }

    /// <summary><c>aws:///us-east-1a/i-0123456789abcdef0</c> → (<c>us-east-1a</c>, <c>i-0123456789abcdef0</c>); nulls for anything else.</summary>
    internal static (string? Zone, string? InstanceId) ParseProviderId(string? providerId)
    {
        const string Scheme = "aws:///";
        if (providerId is null || !providerId.StartsWith(Scheme, StringComparison.Ordinal))
        {
            return (null, null);
        }

        var parts = providerId[Scheme.Length..].Split('/');
        return parts is [var zone, var instance] && instance.StartsWith("i-", StringComparison.Ordinal) ? (zone, instance) : (null, null);
    }

    /// <summary>
    /// The StatefulSet of <paramref name="nodeGroup"/> as a copy of <paramref name="template"/>: everything the
    /// template's owner wrote, none of what the API server keeps (uid, resourceVersion, timestamps, managed fields,
    /// owners, status, kubectl's last applied configuration), with the group's name, labels, node selector and
    /// <see cref="NodeGroupVariable"/>, at <paramref name="replicas"/>.
    /// </summary>
    internal static V1StatefulSet FromTemplate(V1StatefulSet template, string nodeGroup, int replicas) =>
        FromTemplate(template, SiloGroup.Across(nodeGroup), replicas);

    /// <summary>
    /// The same for a silo group: a zonal group's copy also gets the label <see cref="ZoneLabel"/> (set, selector, pods)
    /// and its zone as a literal <see cref="ZoneVariable"/> and a <see cref="TopologyZoneLabel"/> node selector; a group
    /// across zones loses any zone the template pinned and reads its zone from the pod's label.
    /// </summary>
    internal static V1StatefulSet FromTemplate(V1StatefulSet template, SiloGroup group, int replicas)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(group);
        var nodeGroup = group.NodeGroup;
        var name = group.StatefulSetName;
        var set = KubernetesJson.Deserialize<V1StatefulSet>(KubernetesJson.Serialize(template));
        var spec = set.Spec ?? throw new InvalidOperationException($"template StatefulSet {template.Metadata?.Name} has no spec");
        var pod = spec.Template?.Spec ?? throw new InvalidOperationException($"template StatefulSet {template.Metadata?.Name} has no pod template");

        set.ApiVersion = "apps/v1";
        set.Kind = V1StatefulSet.KubeKind;
        set.Metadata = new V1ObjectMeta
        {
            Name = name,
            NamespaceProperty = template.Metadata?.NamespaceProperty,
            Labels = WithLabels(template.Metadata?.Labels, group, (ManagedByLabel, ManagedBy)),
            Annotations = template.Metadata?.Annotations?.Where(a => a.Key != LastAppliedAnnotation).ToDictionary(StringComparer.Ordinal) is { Count: > 0 } kept
                ? kept
                : null,
        };
        set.Status = null;
        spec.Replicas = replicas;

        spec.Selector ??= new V1LabelSelector();
        spec.Selector.MatchLabels = WithLabels(spec.Selector.MatchLabels, group);
        spec.Template.Metadata ??= new V1ObjectMeta();
        spec.Template.Metadata.Labels = WithLabels(spec.Template.Metadata.Labels, group);
        spec.Template.Metadata.CreationTimestamp = null;
        foreach (var claim in spec.VolumeClaimTemplates ?? [])
        {
            claim.Status = null;
            if (claim.Metadata?.Labels?.ContainsKey(NodeGroupLabel) == true)
            {
                claim.Metadata.Labels = WithLabels(claim.Metadata.Labels, group);
            }
        }

        pod.NodeSelector = new Dictionary<string, string>(pod.NodeSelector ?? new Dictionary<string, string>(), StringComparer.Ordinal)
        {
            [EksNodeGroupLabel] = group.EksNodeGroup,
        };
        pod.NodeSelector.Remove(TopologyZoneLabel);
        if (group.Zone is { } pinned)
        {
            pod.NodeSelector[TopologyZoneLabel] = pinned;
        }

        var silo = pod.Containers?.FirstOrDefault(c => c.Name == SiloContainer)
            ?? (pod.Containers is [var only] ? only : null)
            ?? throw new InvalidOperationException($"template StatefulSet {template.Metadata?.Name} has no container named {SiloContainer}");
        var env = silo.Env?.ToList() ?? [];
        Set(env, new V1EnvVar { Name = NodeGroupVariable, Value = nodeGroup });
        if (group.Zone is { } zone)
        {
            Set(env, new V1EnvVar { Name = ZoneVariable, Value = zone });
        }
        else if (env.FirstOrDefault(e => e.Name == ZoneVariable) is { Value: not null })
        {
            // A copy of a zone-pinned template spans zones: each silo reads its zone from its pod's label.
            Set(env, new V1EnvVar
            {
                Name = ZoneVariable,
                ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = $"metadata.labels['{TopologyZoneLabel}']" } },
            });
        }

        silo.Env = env;
        return set;
    }

    private static void Set(List<V1EnvVar> env, V1EnvVar variable)
    {
        var index = env.FindIndex(e => e.Name == variable.Name);
        if (index >= 0)
        {
            env[index] = variable;
        }
        else
        {
            env.Add(variable);
        }
    }

    /// <summary>The labels with the group's (<see cref="NodeGroupLabel"/>, and <see cref="ZoneLabel"/> for a zonal group, else none) and <paramref name="extra"/>.</summary>
    private static Dictionary<string, string> WithLabels(IDictionary<string, string>? labels, SiloGroup group, params (string Key, string Value)[] extra)
    {
        var result = new Dictionary<string, string>(labels ?? new Dictionary<string, string>(), StringComparer.Ordinal) { [NodeGroupLabel] = group.NodeGroup };
        result.Remove(ZoneLabel);
        if (group.Zone is { } zone)
        {
            result[ZoneLabel] = zone;
        }

        foreach (var (key, value) in extra)
        {
            result[key] = value;
        }

        return result;
    }

    private static string? Label(IDictionary<string, string>? labels, string key) =>
        labels is not null && labels.TryGetValue(key, out var value) ? value : null;

    private async Task<V1StatefulSet?> Read(string name, CancellationToken cancellationToken)
    {
        try
        {
            return await _kubernetes.AppsV1.ReadNamespacedStatefulSetAsync(name, _namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>Creates the group's StatefulSet from the template; null when it already exists (409).</summary>
    private async Task<V1StatefulSet?> Create(SiloGroup nodeGroup, string name, int replicas, CancellationToken cancellationToken)
    {
        var template = await Read(_template, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException(
                $"the template StatefulSet {_namespace}/{_template} (Kbl:Provisioning:Kubernetes:TemplateStatefulSet) does not exist: cannot create {name} for node group {nodeGroup}");
        var set = FromTemplate(template, nodeGroup, replicas);
        set.Metadata.NamespaceProperty = _namespace;
        try
        {
            var created = await _kubernetes.AppsV1.CreateNamespacedStatefulSetAsync(set, _namespace, cancellationToken: cancellationToken).ConfigureAwait(false);
            LogCreated(_logger, _namespace, name, _template, replicas);
            return created;
        }
        catch (HttpOperationException e) when (e.Response?.StatusCode == HttpStatusCode.Conflict)
        {
            return null;
        }
    }

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [LoggerMessage(EventId = 51100, Level = LogLevel.Information,
        Message = "Created StatefulSet {Namespace}/{Name} from {Template} with {Replicas} replicas")]
    private static partial void LogCreated(ILogger logger, string @namespace, string name, string template, int replicas);

    [LoggerMessage(EventId = 51101, Level = LogLevel.Information,
        Message = "Scaled StatefulSet {Namespace}/{Name} from {From} to {To} replicas")]
    private static partial void LogScaled(ILogger logger, string @namespace, string name, int from, int to);

    [LoggerMessage(EventId = 51102, Level = LogLevel.Information, Message = "Deleted StatefulSet {Namespace}/{Name}")]
    private static partial void LogRemoved(ILogger logger, string @namespace, string name);

    [LoggerMessage(EventId = 51104, Level = LogLevel.Information, Message = "Cordoned node {Node}: nothing new is scheduled there before it goes")]
    private static partial void LogCordoned(ILogger logger, string node);

    [LoggerMessage(EventId = 51103, Level = LogLevel.Warning,
        Message = "StatefulSet {Namespace}/{Name} is the template of new node groups and is kept (at its current replicas) although its group was removed")]
    private static partial void LogTemplateKept(ILogger logger, string @namespace, string name);
}
