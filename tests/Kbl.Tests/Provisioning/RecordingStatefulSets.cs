using System.Collections.Concurrent;
using Kbl.NodeGroups.Kubernetes;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// Silo StatefulSets that are ready at once, recording each call with how many changing EKS calls the group had had by
/// then (to check the order: silos drained before their nodes go).
/// </summary>
internal sealed class RecordingStatefulSets(Func<string, int> eksChangesOf) : ISiloStatefulSets
{
    private readonly ConcurrentQueue<StatefulSetCall> _calls = new();

    public ConcurrentDictionary<string, int> Replicas { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<StatefulSetCall> Calls => [.. _calls];

    public Task<int> Scale(string nodeGroup, int replicas, CancellationToken cancellationToken)
    {
        _calls.Enqueue(new StatefulSetCall("scale", nodeGroup, replicas, eksChangesOf(nodeGroup)));
        Replicas[nodeGroup] = replicas;
        return Task.FromResult(replicas);
    }

    public Task Remove(string nodeGroup, CancellationToken cancellationToken)
    {
        _calls.Enqueue(new StatefulSetCall("remove", nodeGroup, 0, eksChangesOf(nodeGroup)));
        Replicas.TryRemove(nodeGroup, out _);
        return Task.CompletedTask;
    }
}

internal sealed record StatefulSetCall(string Operation, string NodeGroup, int Replicas, int EksChangesBefore);
