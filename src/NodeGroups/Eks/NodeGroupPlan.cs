using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// What EKS calls make a node group what its spec says: the create request, the config update from what it is now,
/// and the idempotency tokens. Shared by the eks provider (from what EKS reports) and the dry run (from what it
/// applied last), so both make the same calls.
/// </summary>
internal static class NodeGroupPlan
{
    /// <summary>The tag on every node group Kbl creates; Kbl deletes no group without it.</summary>
    public const string ManagedByTag = "kbl.io/managed-by";

    public const string ManagedByValue = "kbl";

    /// <summary>
    /// The tag on every node group Kbl created itself (with <see cref="ManagedByTag"/>): Kbl owns all its scaling, labels
    /// and taints. A group handed over by tagging it <see cref="ManagedByTag"/> only (made with eksctl, say) keeps its
    /// owner's limits, labels and taints: Kbl owns its desired size (within its limits) and the <c>kbl.io/</c> labels and taints.
    /// </summary>
    public const string CreatedByTag = "kbl.io/created-by";

    /// <summary>The label and taint key prefix Kbl owns on every group it manages.</summary>
    public const string OwnPrefix = "kbl.io/";

    /// <summary>The Kubernetes label that names a node's group on every node of a Kbl group.</summary>
    public const string NodeGroupLabel = "kbl.io/node-group";

    public static bool IsManaged(EksNodegroup group) =>
        group.Tags is { } tags && tags.TryGetValue(ManagedByTag, out var value) && value == ManagedByValue;

    /// <summary>Kbl made the group (<see cref="CreatedByTag"/>): it owns all of its scaling, labels and taints.</summary>
    public static bool IsCreatedByKbl(EksNodegroup group) =>
        IsManaged(group) && group.Tags!.TryGetValue(CreatedByTag, out var value) && value == ManagedByValue;

    /// <summary>
    /// The spec as Kbl may apply it to <paramref name="group"/>: unchanged for a group Kbl created; for a group handed
    /// over, the group's own min and max, and the desired size kept within them (an issue says so when it had to be).
    /// </summary>
    public static NodeGroupSpec Effective(EksNodegroup group, NodeGroupSpec spec, ICollection<string> issues)
    {
        if (IsCreatedByKbl(group) || group.ScalingConfig is not { } limits)
        {
            return spec;
        }

        var desired = Math.Clamp(spec.Desired, limits.MinSize, limits.MaxSize);
        if (desired != spec.Desired)
        {
            issues.Add($"DesiredOutsideLimits: the plan wants {spec.Desired} nodes; node group {group.NodegroupName} was handed over with min {limits.MinSize} and max {limits.MaxSize}, which its owner keeps, so it gets {desired}");
        }

        return spec with { Min = limits.MinSize, Max = limits.MaxSize, Desired = desired };
    }

    /// <summary>The spec's labels and <see cref="NodeGroupLabel"/>, in ordinal key order.</summary>
    public static SortedDictionary<string, string> Labels(NodeGroupSpec spec)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in spec.Labels)
        {
            labels[key] = value;
        }

        labels.TryAdd(NodeGroupLabel, spec.Name);
        return labels;
    }

    public static EksCreateNodegroupRequest Create(string cluster, long generation, NodeGroupSpec spec, IReadOnlyList<string> subnets, string nodeRole)
    {
        var taints = Taints(spec);
        var request = new EksCreateNodegroupRequest(
            spec.Name,
            new EksScalingConfig(spec.Min, spec.Max, spec.Desired),
            subnets,
            string.IsNullOrEmpty(spec.InstanceType) ? null : [spec.InstanceType],
            nodeRole,
            Labels(spec),
            taints.Count == 0 ? null : taints,
            new SortedDictionary<string, string>(StringComparer.Ordinal) { [CreatedByTag] = ManagedByValue, [ManagedByTag] = ManagedByValue },
            ClientRequestToken: null);
        return request with { ClientRequestToken = Token(cluster, spec.Name, generation, "CreateNodegroup", EksJson.Serialize(request)) };
    }

    /// <summary>
    /// The update that makes <paramref name="current"/>'s scaling, labels and taints the spec's, or null when they are. On a
    /// group Kbl did not create, only labels and taints under <see cref="OwnPrefix"/> are ever removed (pass the
    /// <see cref="Effective"/> spec for its scaling).
    /// </summary>
    public static EksNodegroupConfigUpdate? Update(string cluster, long generation, EksNodegroup current, NodeGroupSpec spec)
    {
        var ownsAll = IsCreatedByKbl(current);
        var scaling = new EksScalingConfig(spec.Min, spec.Max, spec.Desired);
        var currentLabels = current.Labels ?? new Dictionary<string, string>();
        var wantedLabels = Labels(spec);
        var setLabels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in wantedLabels)
        {
            if (!currentLabels.TryGetValue(key, out var now) || now != value)
            {
                setLabels[key] = value;
            }
        }

        var removeLabels = currentLabels.Keys.Where(key => !wantedLabels.ContainsKey(key) && (ownsAll || Own(key))).Order(StringComparer.Ordinal).ToList();

        // A taint is known by its key and effect (as Kubernetes and EKS match them); a new value is an add-or-update.
        var currentTaints = current.Taints ?? [];
        var wantedTaints = Taints(spec);
        var setTaints = wantedTaints.Where(t => !currentTaints.Any(c => Same(c, t) && (c.Value ?? "") == (t.Value ?? ""))).ToList();
        var removeTaints = currentTaints.Where(c => !wantedTaints.Any(t => Same(c, t)) && (ownsAll || Own(c.Key))).ToList();

        var update = new EksNodegroupConfigUpdate(
            setLabels.Count == 0 && removeLabels.Count == 0 ? null : new EksLabelsUpdate(setLabels.Count == 0 ? null : setLabels, removeLabels.Count == 0 ? null : removeLabels),
            setTaints.Count == 0 && removeTaints.Count == 0 ? null : new EksTaintsUpdate(setTaints.Count == 0 ? null : setTaints, removeTaints.Count == 0 ? null : removeTaints),
            current.ScalingConfig == scaling ? null : scaling,
            ClientRequestToken: null);
        return update.IsEmpty
            ? null
            : update with { ClientRequestToken = Token(cluster, spec.Name, generation, "UpdateNodegroupConfig", EksJson.Serialize(update)) };
    }

    /// <summary>The group as EKS reports it once <paramref name="request"/> is done (for the dry run).</summary>
    public static EksNodegroup AsCreated(string cluster, EksCreateNodegroupRequest request) => new(
        request.NodegroupName, null, cluster, "ACTIVE", request.ScalingConfig, request.InstanceTypes, request.Subnets, request.NodeRole,
        request.Labels, request.Taints, null, request.Tags);

    /// <summary>The group as EKS reports it once <paramref name="update"/> is done (for the dry run).</summary>
    public static EksNodegroup AsUpdated(EksNodegroup group, EksNodegroupConfigUpdate update)
    {
        var labels = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in group.Labels ?? new Dictionary<string, string>())
        {
            labels[key] = value;
        }

        foreach (var key in update.Labels?.RemoveLabels ?? [])
        {
            labels.Remove(key);
        }

        foreach (var (key, value) in update.Labels?.AddOrUpdateLabels ?? new Dictionary<string, string>())
        {
            labels[key] = value;
        }

        var taints = (group.Taints ?? []).ToList();
        taints.RemoveAll(t => (update.Taints?.RemoveTaints ?? []).Any(r => Same(t, r)) || (update.Taints?.AddOrUpdateTaints ?? []).Any(a => Same(t, a)));
        taints.AddRange(update.Taints?.AddOrUpdateTaints ?? []);
        return group with { ScalingConfig = update.ScalingConfig ?? group.ScalingConfig, Labels = labels, Taints = taints };
    }

    /// <summary>What the spec wants that EKS cannot change in place (it would take a new group); reported, not acted on.</summary>
    public static IEnumerable<string> Drift(EksNodegroup group, NodeGroupSpec spec)
    {
        if (!string.IsNullOrEmpty(spec.InstanceType) && group.InstanceTypes is { Count: > 0 } types && !types.Contains(spec.InstanceType))
        {
            yield return $"InstanceTypeDiffers: the group runs {string.Join(", ", types)}, the spec asks for {spec.InstanceType}; EKS cannot change it in place";
        }
    }

    /// <summary>
    /// A <c>clientRequestToken</c> that is the same for the same change: derived from the cluster, the group, the desired
    /// generation, the operation and its body, so a call retried after a lost answer (in this round or the next one for the
    /// same generation) is recognised by EKS as the same request, and a different change gets a different token.
    /// </summary>
    public static string Token(string cluster, string group, long generation, string operation, string body)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{cluster}\n{group}\n{generation}\n{operation}\n{body}")));
        var hex = Convert.ToHexStringLower(hash.AsSpan(0, 16));
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    private static bool Own(string key) => key.StartsWith(OwnPrefix, StringComparison.Ordinal);

    private static List<EksTaint> Taints(NodeGroupSpec spec) => [.. spec.Taints.Select(t => new EksTaint(t.Key, t.Value, t.Effect))];

    private static bool Same(EksTaint a, EksTaint b) => a.Key == b.Key && a.Effect == b.Effect;
}
