namespace Kbl.NodeGroups;

/// <summary>
/// Makes the real node groups what a desired state says. Level-triggered: it compares the world with
/// <paramref name="desired"/> every time and acts only on the difference, so calling it again, or with an
/// older state after a newer one was refused by the caller, does nothing wrong.
/// </summary>
public interface INodeGroupProvider
{
    /// <summary>The provider's configuration name: <c>local</c>, <c>eks</c> or <c>dry-run</c>.</summary>
    string Name { get; }

    /// <summary>Reconciles towards <paramref name="desired"/> and returns what it observed afterwards.</summary>
    Task<ObservedState> Reconcile(DesiredState desired, CancellationToken cancellationToken);
}

/// <summary>
/// A provider whose nodes live inside the process that runs it (the local provider's silo processes): they are
/// stopped, each draining, when that process stops, while the rest of the cluster can still take their KBLs.
/// </summary>
public interface IProcessBoundProvider
{
    Task StopAll();
}
