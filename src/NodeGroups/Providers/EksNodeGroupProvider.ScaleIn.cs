using Kbl.NodeGroups.Eks;
using Kbl.NodeGroups.Kubernetes;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups.Providers;

// The eks provider's scale-in: a group shrinks one chosen node at a time, its silo drained first.
/// <summary>
/// <para><b>Scale-in removes the node Kbl empties.</b> Lowering an EKS group's desired size lets its Auto Scaling group
/// pick the instance to terminate (zone balance first), usually not the one whose silo just drained, and EKS stops
/// honouring PodDisruptionBudgets after 15 minutes. So, with Kubernetes and an <see cref="AutoScalingClient"/>, a group
/// shrinks one node at a time: the silo the StatefulSet stops next (the highest ordinal) is found on its node, the node is
/// cordoned (nothing new lands there), the StatefulSet is scaled down by one (the silo drains its KBLs and records to the
/// rest of its group, Kbl's own SIGTERM drain) and the provider waits until the pod is gone, then terminates exactly that
/// instance with <c>TerminateInstanceInAutoScalingGroup</c> and <c>ShouldDecrementDesiredCapacity</c>. EKS's own
/// desired size is then set to match, which terminates nothing more. A silo that cannot be placed on an instance of the
/// group (not scheduled, no <c>providerID</c>) makes the rest of the step fall back to EKS's choice, with an issue.</para>
/// </summary>
public sealed partial class EksNodeGroupProvider
{
    /// <summary>Scales the group's silos to 0 and waits until none is ready (they drain their KBLs first).</summary>
    private async Task Drain(SiloGroup silos, CancellationToken cancellationToken)
    {
        var deadline = _timeProvider.GetUtcNow() + _waitTimeout;
        int ready;
        while ((ready = await _statefulSets!.Scale(silos, 0, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (_timeProvider.GetUtcNow() >= deadline)
            {
                throw new TimeoutException($"{ready} silos still ready after {_waitTimeout}; the group is deleted once they are gone");
            }

            await Poll(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Shrinks an ACTIVE group towards <paramref name="spec"/>'s desired size one chosen node at a time (see the class
    /// remarks): find the node of the silo the StatefulSet stops next, cordon it, drain the silo, terminate that instance
    /// with the Auto Scaling group's capacity decremented. Returns the group as EKS then reports it.
    /// </summary>
    private async Task<EksNodegroup> ScaleIn(NodeGroupSpec spec, SiloGroup silos, EksNodegroup group, long generation, List<string> issues, CancellationToken cancellationToken)
    {
        var scaling = group.ScalingConfig!;
        var autoScalingGroup = group.Resources?.AutoScalingGroups?.Select(a => a.Name).FirstOrDefault(n => !string.IsNullOrEmpty(n));
        if (autoScalingGroup is null)
        {
            issues.Add($"TargetedScaleInSkipped: EKS names no Auto Scaling group for node group {spec.Name}; EKS picks the nodes to remove");
            return group;
        }

        if (scaling.MinSize > spec.Desired)
        {
            // The Auto Scaling group refuses to shrink below its minimum: lower it first, nothing else.
            var lower = new EksNodegroupConfigUpdate(null, null, scaling with { MinSize = spec.Min }, null);
            lower = lower with { ClientRequestToken = NodeGroupPlan.Token(Cluster, spec.Name, generation, "LowerMinSize", EksJson.Serialize(lower)) };
            var started = await _eks.UpdateNodegroupConfig(spec.Name, lower, cancellationToken).ConfigureAwait(false);
            if (await WaitUpdate(spec.Name, started, cancellationToken).ConfigureAwait(false) is { } failure)
            {
                throw new InvalidOperationException(failure);
            }
        }

        var instances = await _autoScaling!.DescribeAutoScalingGroup(autoScalingGroup, cancellationToken).ConfigureAwait(false);
        var removed = 0;
        for (var size = scaling.DesiredSize; size > spec.Desired; size--)
        {
            var ordinal = size - 1;
            var node = await _statefulSets!.NodeOf(silos, ordinal, cancellationToken).ConfigureAwait(false);
            if (node?.InstanceId is not { } instance || instances?.Instances.Any(i => i.InstanceId == instance) != true)
            {
                issues.Add($"TargetedScaleInSkipped: silo {silos.StatefulSetName}-{ordinal} runs on no instance of Auto Scaling group {autoScalingGroup} ({(node is null ? "no pod on a node" : $"node {node.Node}, instance {node.InstanceId ?? "unknown"}")}); EKS picks the remaining {size - spec.Desired} nodes to remove");
                break;
            }

            await _statefulSets.Cordon(node.Node, cancellationToken).ConfigureAwait(false);
            await DrainTo(silos, ordinal, cancellationToken).ConfigureAwait(false);
            LogTerminating(_logger, Cluster, spec.Name, instance, node.Node, node.Pod);
            await _autoScaling.TerminateInstanceInAutoScalingGroup(instance, decrementDesiredCapacity: true, cancellationToken).ConfigureAwait(false);
            removed++;
        }

        if (removed == 0 && scaling.MinSize <= spec.Desired)
        {
            return group;
        }

        return await _eks.DescribeNodegroup(spec.Name, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"node group {spec.Name} disappeared during its scale-in");
    }

    /// <summary>Scales the group's silos to <paramref name="replicas"/> and waits until the silo with that ordinal is gone (it drained and exited).</summary>
    private async Task DrainTo(SiloGroup silos, int replicas, CancellationToken cancellationToken)
    {
        var deadline = _timeProvider.GetUtcNow() + _waitTimeout;
        await _statefulSets!.Scale(silos, replicas, cancellationToken).ConfigureAwait(false);
        while (!await _statefulSets.IsGone(silos, replicas, cancellationToken).ConfigureAwait(false))
        {
            if (_timeProvider.GetUtcNow() >= deadline)
            {
                throw new TimeoutException($"silo {silos.StatefulSetName}-{replicas} still there {_waitTimeout} after its StatefulSet was scaled to {replicas}; its node is terminated once it is gone");
            }

            await Poll(cancellationToken).ConfigureAwait(false);
        }
    }
}
