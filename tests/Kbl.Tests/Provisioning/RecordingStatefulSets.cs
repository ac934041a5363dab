using System.Collections.Concurrent;
using Kbl.NodeGroups.Kubernetes;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// Silo StatefulSets that are ready at once, recording each call with how many changing EKS calls the group had had by
/// then (to check the order: silos drained before their nodes go). Keyed by the EKS node group; no pod is on a known
/// node, so a shrinking group falls back to EKS's choice of node.
/// </summary>
internal sealed class RecordingStatefulSets(Func<string, int> eksChangesOf) : ISiloStatefulSets
{
    private readonly ConcurrentQueue<StatefulSetCall> _calls = new();

    public ConcurrentDictionary<string, int> Replicas { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<StatefulSetCall> Calls => [.. _calls];

    public Task<int> Scale(SiloGroup group, int replicas, CancellationToken cancellationToken)
    {
        _calls.Enqueue(new StatefulSetCall("scale", group.EksNodeGroup, replicas, eksChangesOf(group.EksNodeGroup)));
        Replicas[group.EksNodeGroup] = replicas;
        return Task.FromResult(replicas);
    }

    public Task Remove(SiloGroup group, CancellationToken cancellationToken)
    {
        _calls.Enqueue(new StatefulSetCall("remove", group.EksNodeGroup, 0, eksChangesOf(group.EksNodeGroup)));
        Replicas.TryRemove(group.EksNodeGroup, out _);
        return Task.CompletedTask;
    }

    public Task<SiloNode?> NodeOf(SiloGroup group, int ordinal, CancellationToken cancellationToken) => Task.FromResult<SiloNode?>(null);

    public Task Cordon(string node, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("no node is known, so none may be cordoned");

    public Task<bool> IsGone(SiloGroup group, int ordinal, CancellationToken cancellationToken) =>
        Task.FromResult(!Replicas.TryGetValue(group.EksNodeGroup, out var replicas) || ordinal >= replicas);
}

internal sealed record StatefulSetCall(string Operation, string NodeGroup, int Replicas, int EksChangesBefore);
