using Kbl.NodeGroups.Eks;

namespace Kbl.NodeGroups.Providers;

// The eks provider's waits: for a group to settle, to be gone, and for an update to end, polling as the SDK's waiters do.
public sealed partial class EksNodeGroupProvider
{
    /// <summary>
    /// Waits while the group is CREATING or UPDATING, as the SDK's NodegroupActive waiter does, but stops at any settled
    /// status (ACTIVE, CREATE_FAILED, DEGRADED, DELETE_FAILED…): those are reported, not waited out.
    /// </summary>
    private async Task<EksNodegroup> WaitSettled(EksNodegroup group, CancellationToken cancellationToken)
    {
        var deadline = _timeProvider.GetUtcNow() + _waitTimeout;
        while (group.Status is "CREATING" or "UPDATING")
        {
            if (_timeProvider.GetUtcNow() >= deadline)
            {
                throw new TimeoutException($"still {group.Status} after {_waitTimeout}; the next round goes on waiting");
            }

            await Poll(cancellationToken).ConfigureAwait(false);
            group = await _eks.DescribeNodegroup(group.NodegroupName, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"disappeared while {group.Status}");
        }

        return group;
    }

    /// <summary>Waits until the group is gone (null), as the NodegroupDeleted waiter does; the group when its delete failed.</summary>
    private async Task<EksNodegroup?> WaitGone(EksNodegroup group, CancellationToken cancellationToken)
    {
        var deadline = _timeProvider.GetUtcNow() + _waitTimeout;
        EksNodegroup? now;
        while ((now = await _eks.DescribeNodegroup(group.NodegroupName, cancellationToken).ConfigureAwait(false)) is { Status: not "DELETE_FAILED" })
        {
            if (_timeProvider.GetUtcNow() >= deadline)
            {
                throw new TimeoutException($"still {now.Status} after {_waitTimeout}; the next round goes on waiting");
            }

            await Poll(cancellationToken).ConfigureAwait(false);
        }

        return now;
    }

    /// <summary>Waits for an update to end; null when it succeeded, else why not.</summary>
    private async Task<string?> WaitUpdate(string name, EksUpdate update, CancellationToken cancellationToken)
    {
        var deadline = _timeProvider.GetUtcNow() + _waitTimeout;
        while (update.Status == "InProgress")
        {
            if (_timeProvider.GetUtcNow() >= deadline)
            {
                throw new TimeoutException($"update {update.Id} still InProgress after {_waitTimeout}; the next round goes on waiting");
            }

            await Poll(cancellationToken).ConfigureAwait(false);
            update = await _eks.DescribeUpdate(name, update.Id, cancellationToken).ConfigureAwait(false);
        }

        if (update.Status == "Successful")
        {
            return null;
        }

        var details = string.Join(", ", (update.Errors ?? []).Select(e => $"{e.ErrorCode}: {e.ErrorMessage}"));
        return $"node group {name}: update {update.Id} {update.Status}" + (details.Length > 0 ? $" ({details})" : "");
    }

    /// <summary>One poll interval of a wait, and a beat of progress.</summary>
    private async Task Poll(CancellationToken cancellationToken)
    {
        await Task.Delay(_pollInterval, _timeProvider, cancellationToken).ConfigureAwait(false);
        Progress?.Beat();
    }
}
