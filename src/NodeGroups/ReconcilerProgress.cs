namespace Kbl.NodeGroups;

/// <summary>
/// When the reconciler last made progress: each turn of its loop, and each poll of a provider's waits, is a beat. A
/// reconciler that is hung (a call that never returns, a deadlock) stops beating, and the Provisioner's liveness probe
/// (<see cref="HealthEndpoint"/>) fails once no beat came for <see cref="ProvisioningOptions.StallTimeout"/>, so Kubernetes
/// restarts it. A restart loses nothing: the reconciler is level-triggered and reads the current plan at start.
/// </summary>
public sealed class ReconcilerProgress
{
    private readonly TimeProvider _time;
    private long _last;

    public ReconcilerProgress(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        _time = time;
        _last = time.GetUtcNow().UtcTicks;
    }

    /// <summary>The last beat (the start counts as one).</summary>
    public DateTimeOffset Last => new(Interlocked.Read(ref _last), TimeSpan.Zero);

    /// <summary>How long since the last beat.</summary>
    public TimeSpan Silence => _time.GetUtcNow() - Last;

    /// <summary>The reconciler is alive and moving.</summary>
    public void Beat() => Interlocked.Exchange(ref _last, _time.GetUtcNow().UtcTicks);
}
