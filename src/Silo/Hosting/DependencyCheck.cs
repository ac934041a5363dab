using Kbl.Configuration;
using Kbl.NodeGroups.Queue;
using Kbl.Persistence;
using Kbl.Storage;
using Orleans.Storage;

namespace Kbl.Silo.Hosting;

/// <summary>
/// What the silo needs from outside, checked while it starts and before it joins the cluster: the grain storage
/// (a DynamoDB table that does not exist, a SQLite file that cannot be opened) and, when it publishes desired states to
/// SQS, the queue. A failure becomes a <see cref="KblDependencyException"/> naming the dependency, which stops the
/// silo with one line and exit code 3. Redis membership fails in Orleans' own start-up (<see cref="StartupFailure"/>).
/// </summary>
public sealed class DependencyCheck(IServiceProvider services) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>How long the SQS queue has to answer.</summary>
    public static readonly TimeSpan QueueTimeout = TimeSpan.FromSeconds(20);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(DependencyCheck), ServiceLifecycleStage.RuntimeStorageServices, Check, _ => Task.CompletedTask);

    private async Task Check(CancellationToken cancellationToken)
    {
        if (services.GetKeyedService<IGrainStorage>(KblStorage.Name) is GrainStorageProvider storage)
        {
            try
            {
                await storage.EnsureInitializedAsync().WaitAsync(cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new KblDependencyException($"grain storage unavailable: {KblDependencyException.FirstLine(e.Message)}", e);
            }
        }

        if (services.GetService<IDeploymentQueue>() is SqsDeploymentQueue queue)
        {
            await queue.EnsureReachableAsync(QueueTimeout, cancellationToken);
        }
    }
}
