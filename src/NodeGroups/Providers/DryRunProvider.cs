using Kbl.NodeGroups.Eks;

namespace Kbl.NodeGroups.Providers;

/// <summary>
/// Provider <c>dry-run</c>: applies nothing, and prints the changing calls the <c>eks</c> provider would make to go from
/// the last desired state it took (none at first) to the new one, one line each:
/// <c>POST https://eks.us-east-1.amazonaws.com/clusters/kbl/node-groups {…}</c>, <c>POST …/update-config {…}</c>,
/// <c>DELETE …/node-groups/NAME</c>, and with Kubernetes the silo StatefulSets' replica changes
/// (<c>PATCH …/statefulsets/kbl-NAME/scale {"spec":{"replicas":N}}</c>, <c>DELETE …/statefulsets/kbl-NAME</c>).
/// The lines are built by the same code as the real calls (<see cref="EksRequests"/>), tokens included. Reads and
/// waits are not printed. It answers as if every call had succeeded.
/// </summary>
public sealed class DryRunProvider : INodeGroupProvider
{
    /// <summary>Where the dry run sends Kubernetes calls in its lines (the API server as seen from a pod).</summary>
    public const string KubernetesApi = "https://kubernetes.default.svc";

    private readonly EksRequests _requests;
    private readonly string _nodeRole;
    private readonly IReadOnlyList<string> _configuredSubnets;
    private readonly INodeGroupSubnets? _subnets;
    private readonly KubernetesOptions? _kubernetes;
    private readonly bool _zonal;
    private readonly TextWriter _output;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Dictionary<string, EksNodegroup> _applied = new(StringComparer.Ordinal);

    /// <param name="options">The cluster, endpoint and node role the printed calls name.</param>
    /// <param name="output">Where the lines go; null: <see cref="Console.Out"/>.</param>
    /// <param name="kubernetes">Null: no StatefulSet lines. Else the namespace of the silo StatefulSets (named as <see cref="Kubernetes.SiloStatefulSets.StatefulSetName"/> does).</param>
    /// <param name="subnets">
    /// Picks a new group's subnets (<see cref="Ec2Zones"/>, read-only EC2 calls). Null: <see cref="EksOptions.Subnets"/> as
    /// configured, or when none a placeholder <c>&lt;default subnet of ZONE&gt;</c> per zone.
    /// </param>
    /// <param name="timeProvider">Stamps the observed states.</param>
    public DryRunProvider(EksOptions options, TextWriter? output = null, KubernetesOptions? kubernetes = null, INodeGroupSubnets? subnets = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _requests = new EksRequests(string.IsNullOrWhiteSpace(options.ClusterName) ? "kbl" : options.ClusterName, EksRequests.EndpointOf(options));
        _nodeRole = options.NodeRole;
        _configuredSubnets = options.Subnets;
        _subnets = subnets;
        _kubernetes = kubernetes;
        _zonal = options.ZonalNodeGroups;
        _output = output ?? Console.Out;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name => "dry-run";

    /// <inheritdoc />
    public async Task<ObservedState> Reconcile(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var lines = new List<string>();
            var errors = new List<string>();
            var next = new Dictionary<string, EksNodegroup>(StringComparer.Ordinal);
            var observed = new List<ObservedGroup>();
            foreach (var planned in desired.Groups.DistinctBy(spec => spec.Name, StringComparer.Ordinal))
            {
                IReadOnlyList<(NodeGroupSpec Spec, Kubernetes.SiloGroup Silos)> parts;
                try
                {
                    parts = await Parts(planned, cancellationToken).ConfigureAwait(false);
                }
                catch (SubnetSelectionException e)
                {
                    errors.Add(e.Message);
                    continue;
                }

                var partStates = new List<ObservedGroup>();
                foreach (var (spec, silos) in parts)
                {
                    if (!_applied.TryGetValue(spec.Name, out var group))
                    {
                        IReadOnlyList<string> subnets;
                        try
                        {
                            subnets = await SubnetsFor(spec, cancellationToken).ConfigureAwait(false);
                        }
                        catch (SubnetSelectionException e)
                        {
                            errors.Add(e.Message);
                            continue;
                        }

                        var create = NodeGroupPlan.Create(_requests.ClusterName, desired.Generation, spec, subnets, _nodeRole);
                        lines.Add(_requests.CreateNodegroup(create).ToString());
                        group = NodeGroupPlan.AsCreated(_requests.ClusterName, create);
                        Scale(lines, silos, from: 0, to: spec.Desired);
                    }
                    else if (NodeGroupPlan.Update(_requests.ClusterName, desired.Generation, group, spec) is { } update)
                    {
                        var from = group.ScalingConfig?.DesiredSize ?? 0;
                        if (spec.Desired < from)
                        {
                            Scale(lines, silos, from, spec.Desired); // shrinking: silos first, as the eks provider does
                        }

                        lines.Add(_requests.UpdateNodegroupConfig(spec.Name, update).ToString());
                        group = NodeGroupPlan.AsUpdated(group, update);
                        if (spec.Desired > from)
                        {
                            Scale(lines, silos, from, spec.Desired);
                        }
                    }

                    next[spec.Name] = group;
                    partStates.Add(new ObservedGroup(group.NodegroupName, group.Status, group.ScalingConfig?.DesiredSize ?? 0, group.ScalingConfig?.DesiredSize ?? 0, []));
                }

                observed.Add(ZonalSplit.Merge(planned.Name, partStates));
            }

            foreach (var name in _applied.Keys.Where(name => !next.ContainsKey(name)).Order(StringComparer.Ordinal))
            {
                if (_kubernetes is not null)
                {
                    var silos = Kubernetes.SiloGroup.Of(name, _applied[name].Labels);
                    Scale(lines, silos, from: _applied[name].ScalingConfig?.DesiredSize ?? 0, to: 0);
                    lines.Add($"DELETE {StatefulSet(silos)}");
                }

                lines.Add(_requests.DeleteNodegroup(name).ToString());
            }

            foreach (var line in lines)
            {
                await _output.WriteLineAsync(line).ConfigureAwait(false);
            }

            await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            _applied = next;
            return new ObservedState(
                desired.Generation,
                _timeProvider.GetUtcNow(),
                Name,
                observed,
                errors.Count == 0 ? null : string.Join("; ", errors));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// The EKS groups of a plan group: one per zone when zonal and its zones are known (from EC2, or named by the spec),
    /// else the group as it is (a dry run without EC2 access cannot know "every zone").
    /// </summary>
    private async Task<IReadOnlyList<(NodeGroupSpec Spec, Kubernetes.SiloGroup Silos)>> Parts(NodeGroupSpec spec, CancellationToken cancellationToken)
    {
        if (_zonal)
        {
            var zones = _subnets is not null ? await _subnets.ZonesFor(spec, cancellationToken).ConfigureAwait(false) : spec.Zones;
            if (zones.Count > 0)
            {
                return ZonalSplit.Split(spec, zones);
            }
        }

        return [(spec, Kubernetes.SiloGroup.Across(spec.Name))];
    }

    private async Task<IReadOnlyList<string>> SubnetsFor(NodeGroupSpec spec, CancellationToken cancellationToken)
    {
        if (_subnets is not null)
        {
            return await _subnets.SubnetsFor(spec, cancellationToken).ConfigureAwait(false);
        }

        if (_configuredSubnets.Count > 0)
        {
            return _configuredSubnets;
        }

        return spec.Zones.Count == 0 ? ["<the cluster's subnets>"] : [.. spec.Zones.Select(zone => $"<the cluster's subnets in {zone}>")];
    }

    private void Scale(List<string> lines, Kubernetes.SiloGroup group, int from, int to)
    {
        if (_kubernetes is not null && from != to)
        {
            lines.Add($"PATCH {StatefulSet(group)}/scale " + "{\"spec\":{\"replicas\":" + to.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}}");
        }
    }

    private string StatefulSet(Kubernetes.SiloGroup group) =>
        $"{KubernetesApi}/apis/apps/v1/namespaces/{Uri.EscapeDataString(_kubernetes!.Namespace)}/statefulsets/{Uri.EscapeDataString(group.StatefulSetName)}";
}
