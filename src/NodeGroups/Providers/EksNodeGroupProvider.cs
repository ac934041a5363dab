using System.Collections.Concurrent;
using Kbl.NodeGroups.Eks;
using Kbl.NodeGroups.Kubernetes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kbl.NodeGroups.Providers;

/// <summary>
/// Makes an EKS cluster's managed node groups what a desired state says (provider <c>eks</c>). Each round lists and
/// describes the groups, creates the missing ones (tagged <c>kbl.io/managed-by=kbl</c>, labelled
/// <c>kbl.io/node-group=NAME</c>) and waits for them to be ACTIVE, updates scaling, labels and taints where they
/// differ and waits for the update, and deletes the Kbl-managed groups no longer wanted and waits until they are gone.
/// Groups without the tag are never changed or deleted. With an <see cref="ISiloStatefulSets"/>, each ACTIVE group's
/// silo StatefulSet is scaled to the group's size, and a group's silos are scaled to 0 and their StatefulSet removed
/// before the group is deleted. With <see cref="EksOptions.ZonalNodeGroups"/> each group of the plan is one EKS group
/// and StatefulSet per zone (<see cref="ZonalSplit"/>). Scale-in and drains are in EksNodeGroupProvider.ScaleIn.cs,
/// the waits in EksNodeGroupProvider.Waits.cs.
/// </summary>
/// <remarks>
/// Level-triggered and idempotent: a second round for the same state makes no create, update or delete. A create
/// answered with ResourceInUseException (a group of that name exists, e.g. a retried create whose first answer was
/// lost) describes the group and goes on, so a group is never created twice; creates and updates carry a
/// <c>clientRequestToken</c> derived from the change. Waits poll every <see cref="EksOptions.PollInterval"/> and give up
/// after <see cref="EksOptions.WaitTimeout"/>: the round then reports the error and the next round resumes. Groups are
/// worked on side by side, each on its own, so one group's failure does not hold up the others.
/// </remarks>
public sealed partial class EksNodeGroupProvider : INodeGroupProvider
{
    /// <summary>The tag on every node group Kbl creates; Kbl deletes no group without it.</summary>
    public const string ManagedByTag = NodeGroupPlan.ManagedByTag;

    /// <summary>The value of <see cref="ManagedByTag"/>.</summary>
    public const string ManagedByValue = NodeGroupPlan.ManagedByValue;

    /// <summary>The node label naming the Kbl node group, on every node of one.</summary>
    public const string NodeGroupLabel = NodeGroupPlan.NodeGroupLabel;

    private const string Active = "ACTIVE";
    private const string Deleting = "DELETING";

    private readonly EksClient _eks;
    private readonly INodeGroupSubnets _subnets;
    private readonly ISiloStatefulSets? _statefulSets;
    private readonly AutoScalingClient? _autoScaling;
    private readonly bool _zonal;
    private readonly string _nodeRole;
    private readonly TimeSpan _pollInterval;
    private readonly TimeSpan _waitTimeout;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    /// <param name="eks">The EKS API of the cluster.</param>
    /// <param name="subnets">Where new groups go (<see cref="Ec2Zones"/>).</param>
    /// <param name="options"><see cref="EksOptions.NodeRole"/>, <see cref="EksOptions.PollInterval"/>, <see cref="EksOptions.WaitTimeout"/>.</param>
    /// <param name="statefulSets">Null: no Kubernetes side; a group's ready count is then its desired size once ACTIVE.</param>
    /// <param name="timeProvider">The clock of the waits.</param>
    /// <param name="logger">Every change is logged.</param>
    /// <param name="autoScaling">Where the targeted scale-in terminates chosen nodes; null: shrinking only lowers the desired size.</param>
    public EksNodeGroupProvider(
        EksClient eks,
        INodeGroupSubnets subnets,
        EksOptions options,
        ISiloStatefulSets? statefulSets = null,
        TimeProvider? timeProvider = null,
        ILogger<EksNodeGroupProvider>? logger = null,
        AutoScalingClient? autoScaling = null)
    {
        ArgumentNullException.ThrowIfNull(eks);
        ArgumentNullException.ThrowIfNull(subnets);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.NodeRole, nameof(options) + "." + nameof(options.NodeRole));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(options.PollInterval, TimeSpan.Zero, nameof(options) + "." + nameof(options.PollInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.WaitTimeout, TimeSpan.Zero, nameof(options) + "." + nameof(options.WaitTimeout));

        _eks = eks;
        _subnets = subnets;
        _statefulSets = statefulSets;
        _autoScaling = autoScaling;
        _zonal = options.ZonalNodeGroups;
        _nodeRole = options.NodeRole;
        _pollInterval = options.PollInterval;
        _waitTimeout = options.WaitTimeout;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <inheritdoc />
    public string Name => "eks";

    /// <summary>Beaten on every poll of a wait, so a long but moving wait does not count as a hung reconciler.</summary>
    public ReconcilerProgress? Progress { get; init; }

    private string Cluster => _eks.Requests.ClusterName;

    /// <summary>
    /// The provider on its own HTTP and EC2 clients, from options alone: <see cref="EksClient"/> and <see cref="Ec2Zones"/>
    /// with the SDK's default credential chain (IRSA in a pod). For tests and tools; a host wires the parts through DI.
    /// </summary>
    public static EksNodeGroupProvider Create(EksOptions options, ISiloStatefulSets? statefulSets = null, ILoggerFactory? loggers = null, ReconcilerProgress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggers ??= NullLoggerFactory.Instance;
        // The clients live as long as the provider, a process-wide singleton: nothing to dispose before the process ends.
        var eks = new EksClient(new HttpClient(), options, logger: loggers.CreateLogger<EksClient>());
        var autoScaling = new AutoScalingClient(new HttpClient(), options, logger: loggers.CreateLogger<AutoScalingClient>());
        return new EksNodeGroupProvider(eks, new Ec2Zones(options, eks), options, statefulSets, logger: loggers.CreateLogger<EksNodeGroupProvider>(), autoScaling: autoScaling)
        {
            Progress = progress,
        };
    }

    /// <inheritdoc />
    public async Task<ObservedState> Reconcile(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        Dictionary<string, EksNodegroup> existing;
        try
        {
            existing = await Observe(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, Cluster, "(all)", e.Message);
            return new ObservedState(desired.Generation, _timeProvider.GetUtcNow(), Name, [], $"cannot list the node groups of cluster {Cluster}: {e.Message}");
        }

        var errors = new ConcurrentQueue<string>();
        var parts = new List<(string Group, NodeGroupSpec Spec, SiloGroup Silos)>();
        var unplaced = new Dictionary<string, ObservedGroup>(StringComparer.Ordinal);
        foreach (var spec in desired.Groups.DistinctBy(spec => spec.Name, StringComparer.Ordinal))
        {
            if (!_zonal)
            {
                parts.Add((spec.Name, spec, SiloGroup.Across(spec.Name)));
                continue;
            }

            try
            {
                var zones = await _subnets.ZonesFor(spec, cancellationToken).ConfigureAwait(false);
                parts.AddRange(ZonalSplit.Split(spec, zones).Select(part => (spec.Name, part.Spec, part.Silos)));
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                LogFailed(_logger, Cluster, spec.Name, e.Message);
                errors.Enqueue(e is SubnetSelectionException ? e.Message : $"node group {spec.Name}: {e.Message}");
                unplaced[spec.Name] = new ObservedGroup(spec.Name, "MISSING", 0, 0, []);
            }
        }

        var wanted = parts.Select(p => p.Spec.Name).ToHashSet(StringComparer.Ordinal);
        var converging = parts
            .Select(part => Converge(part.Spec, part.Silos, existing.GetValueOrDefault(part.Spec.Name), desired.Generation, errors, cancellationToken))
            .ToList();
        var retiring = existing.Values
            .Where(group => !wanted.Contains(group.NodegroupName) && !unplaced.ContainsKey(group.NodegroupName) && NodeGroupPlan.IsManaged(group))
            .OrderBy(group => group.NodegroupName, StringComparer.Ordinal)
            .Select(group => Retire(group, errors, cancellationToken))
            .ToList();
        var observedParts = await Task.WhenAll(converging).ConfigureAwait(false);
        var leftovers = await Task.WhenAll(retiring).ConfigureAwait(false);
        var groups = desired.Groups
            .DistinctBy(spec => spec.Name, StringComparer.Ordinal)
            .Select(spec => unplaced.TryGetValue(spec.Name, out var missing)
                ? missing
                : ZonalSplit.Merge(spec.Name, [.. parts.Select((part, i) => (part, i)).Where(p => p.part.Group == spec.Name).Select(p => observedParts[p.i])]));

        return new ObservedState(
            desired.Generation,
            _timeProvider.GetUtcNow(),
            Name,
            [.. groups, .. leftovers.OfType<ObservedGroup>()],
            errors.IsEmpty ? null : string.Join("; ", errors.Order(StringComparer.Ordinal)));
    }

    /// <summary>Every node group of the cluster, described (a group deleted between list and describe is left out).</summary>
    private async Task<Dictionary<string, EksNodegroup>> Observe(CancellationToken cancellationToken)
    {
        var groups = new Dictionary<string, EksNodegroup>(StringComparer.Ordinal);
        foreach (var name in await _eks.ListNodegroups(cancellationToken).ConfigureAwait(false))
        {
            if (await _eks.DescribeNodegroup(name, cancellationToken).ConfigureAwait(false) is { } group)
            {
                groups[name] = group;
            }
        }

        return groups;
    }

    /// <summary>Creates, waits for and updates one desired group; reports it as it is at the end.</summary>
    private async Task<ObservedGroup> Converge(NodeGroupSpec spec, SiloGroup silos, EksNodegroup? group, long generation, ConcurrentQueue<string> errors, CancellationToken cancellationToken)
    {
        var issues = new List<string>();
        try
        {
            if (group is { Status: Deleting })
            {
                // Wanted again while it is being deleted: let the delete finish, then create it anew.
                group = await WaitGone(group, cancellationToken).ConfigureAwait(false);
            }

            group ??= await Create(spec, generation, cancellationToken).ConfigureAwait(false);
            if (!NodeGroupPlan.IsManaged(group))
            {
                // Made by someone else (eksctl, Terraform): Kbl reads it but never changes it. Not an error of the
                // round, or a cluster whose first groups were made by hand would never converge: an issue on the group.
                issues.Add($"NotManagedByKbl: node group {spec.Name} exists but is not tagged {ManagedByTag}={ManagedByValue}; Kbl leaves it alone (tag it to let Kbl size it)");
                return Observed(group, ready: group.Status == Active ? group.ScalingConfig?.DesiredSize ?? 0 : 0, issues);
            }

            group = await WaitSettled(group, cancellationToken).ConfigureAwait(false);
            spec = NodeGroupPlan.Effective(group, spec, issues);
            if (group.Status == Active && _statefulSets is not null && _autoScaling is not null && spec.Desired < (group.ScalingConfig?.DesiredSize ?? 0))
            {
                group = await ScaleIn(spec, silos, group, generation, issues, cancellationToken).ConfigureAwait(false);
            }

            if (group.Status == Active && NodeGroupPlan.Update(Cluster, generation, group, spec) is { } update)
            {
                if (_statefulSets is not null && spec.Desired < (group.ScalingConfig?.DesiredSize ?? 0))
                {
                    // Shrinking without a chosen node: fewer silos first, then fewer nodes (EKS picks which).
                    await _statefulSets.Scale(silos, spec.Desired, cancellationToken).ConfigureAwait(false);
                }

                LogUpdating(_logger, Cluster, spec.Name, EksJson.Serialize(update with { ClientRequestToken = null }));
                var started = await _eks.UpdateNodegroupConfig(spec.Name, update, cancellationToken).ConfigureAwait(false);
                if (await WaitUpdate(spec.Name, started, cancellationToken).ConfigureAwait(false) is { } failure)
                {
                    errors.Enqueue(failure);
                }

                group = await _eks.DescribeNodegroup(spec.Name, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"node group {spec.Name} disappeared during its update");
                group = await WaitSettled(group, cancellationToken).ConfigureAwait(false);
            }

            issues.AddRange(NodeGroupPlan.Drift(group, spec));
            issues.AddRange(HealthIssues(group));
            var ready = 0;
            if (group.Status == Active)
            {
                var size = group.ScalingConfig?.DesiredSize ?? 0;
                ready = _statefulSets is null ? size : await _statefulSets.Scale(silos, size, cancellationToken).ConfigureAwait(false);
            }

            return Observed(group, ready, issues);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, Cluster, spec.Name, e.Message);
            errors.Enqueue($"node group {spec.Name}: {e.Message}");
            return group is null ? new ObservedGroup(spec.Name, "MISSING", 0, 0, issues) : Observed(group, ready: 0, [.. issues, .. HealthIssues(group)]);
        }
    }

    private async Task<EksNodegroup> Create(NodeGroupSpec spec, long generation, CancellationToken cancellationToken)
    {
        var subnets = await _subnets.SubnetsFor(spec, cancellationToken).ConfigureAwait(false);
        var request = NodeGroupPlan.Create(Cluster, generation, spec, subnets, _nodeRole);
        LogCreating(_logger, Cluster, spec.Name, spec.InstanceType, spec.Desired, string.Join(",", subnets));
        try
        {
            return await _eks.CreateNodegroup(request, cancellationToken).ConfigureAwait(false);
        }
        catch (EksApiException e) when (e.IsResourceInUse)
        {
            // It exists already (an earlier attempt of this create got through): take it as it is.
            LogExists(_logger, Cluster, spec.Name);
            if (await _eks.DescribeNodegroup(spec.Name, cancellationToken).ConfigureAwait(false) is not { } existing)
            {
                throw;
            }

            return existing;
        }
    }

    /// <summary>Scales a group's silos to 0, removes their StatefulSet, deletes the group and waits until it is gone; null once it is.</summary>
    private async Task<ObservedGroup?> Retire(EksNodegroup group, ConcurrentQueue<string> errors, CancellationToken cancellationToken)
    {
        var name = group.NodegroupName;
        var silos = SiloGroup.Of(name, group.Labels);
        try
        {
            if (_statefulSets is not null)
            {
                await Drain(silos, cancellationToken).ConfigureAwait(false);
                await _statefulSets.Remove(silos, cancellationToken).ConfigureAwait(false);
            }

            if (group.Status != Deleting)
            {
                LogDeleting(_logger, Cluster, name);
                if (await _eks.DeleteNodegroup(name, cancellationToken).ConfigureAwait(false) is null)
                {
                    return null;
                }
            }

            if (await WaitGone(group, cancellationToken).ConfigureAwait(false) is not { } left)
            {
                return null;
            }

            errors.Enqueue($"node group {name} could not be deleted: {left.Status}");
            return Observed(left, ready: 0, HealthIssues(left).ToList());
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(_logger, Cluster, name, e.Message);
            errors.Enqueue($"node group {name}: {e.Message}");
            return Observed(group, ready: 0, HealthIssues(group).ToList());
        }
    }

    private static IEnumerable<string> HealthIssues(EksNodegroup group) =>
        (group.Health?.Issues ?? []).Select(issue => $"{issue.Code}: {issue.Message}");

    private static ObservedGroup Observed(EksNodegroup group, int ready, IReadOnlyList<string> issues) =>
        new(group.NodegroupName, group.Status, group.ScalingConfig?.DesiredSize ?? 0, ready, issues);

    [LoggerMessage(EventId = 43110, Level = LogLevel.Information,
        Message = "EKS cluster {Cluster}: creating node group {NodeGroup} ({InstanceType} x {Desired}, subnets {Subnets})")]
    private static partial void LogCreating(ILogger logger, string cluster, string nodeGroup, string instanceType, int desired, string subnets);

    [LoggerMessage(EventId = 43111, Level = LogLevel.Information,
        Message = "EKS cluster {Cluster}: node group {NodeGroup} exists already; taking it as it is")]
    private static partial void LogExists(ILogger logger, string cluster, string nodeGroup);

    [LoggerMessage(EventId = 43112, Level = LogLevel.Information,
        Message = "EKS cluster {Cluster}: updating node group {NodeGroup}: {Update}")]
    private static partial void LogUpdating(ILogger logger, string cluster, string nodeGroup, string update);

    [LoggerMessage(EventId = 43115, Level = LogLevel.Information,
        Message = "EKS cluster {Cluster}: node group {NodeGroup} shrinks by instance {Instance} (node {Node}, its silo {Pod} drained)")]
    private static partial void LogTerminating(ILogger logger, string cluster, string nodeGroup, string instance, string node, string pod);

    [LoggerMessage(EventId = 43113, Level = LogLevel.Information,
        Message = "EKS cluster {Cluster}: deleting node group {NodeGroup}")]
    private static partial void LogDeleting(ILogger logger, string cluster, string nodeGroup);

    [LoggerMessage(EventId = 43114, Level = LogLevel.Warning,
        Message = "EKS cluster {Cluster}: node group {NodeGroup} did not converge this round: {Reason}")]
    private static partial void LogFailed(ILogger logger, string cluster, string nodeGroup, string reason);
}
