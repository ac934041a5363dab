using Kbl.NodeGroups.Queue;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups;

/// <summary>
/// The Provisioner's loop, level-triggered: it holds the newest desired state it has seen (from the cluster at
/// start, then from the queue), reconciles the provider towards it whenever a newer one arrives and at least every
/// <see cref="ProvisioningOptions.ResyncInterval"/>, reports what it observed, and deletes a message once a
/// generation at least as new has been applied. Older, repeated and lost messages therefore change nothing.
/// </summary>
public sealed class Reconciler(
    IDeploymentQueue queue,
    INodeGroupProvider provider,
    IClusterPlan cluster,
    ProvisioningOptions options,
    TimeProvider time,
    ILogger<Reconciler> logger,
    ReconcilerProgress? progress = null) : BackgroundService
{
    private readonly List<QueuedState> _held = [];
    private DesiredState? _target;
    private long _applied;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await ReadCurrent(stoppingToken);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            progress?.Beat();
            try
            {
                var wait = _target is null || _target.Generation == _applied ? options.ResyncInterval : TimeSpan.Zero;
                Accept(await queue.Receive(wait, stoppingToken));
                if (_target is null)
                {
                    continue;
                }

                var observed = await RoundAsync(_target, stoppingToken);
                failures = observed.Error is null ? 0 : failures + 1;
                if (failures > 0)
                {
                    logger.LogWarning("generation {Generation} not reached ({Failures} in a row): {Error}", _target.Generation, failures, observed.Error);
                    await Task.Delay(Backoff(failures), time, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                failures++;
                var backoff = Backoff(failures);
                logger.LogWarning(e, "reconciling generation {Generation} failed ({Failures} in a row); next try in {Backoff}", _target?.Generation, failures, backoff);
                await Report(new ObservedState(_target?.Generation ?? 0, time.GetUtcNow(), provider.Name, [], e.Message), stoppingToken);
                await Task.Delay(backoff, time, stoppingToken);
            }
        }
    }

    /// <summary>Stops the loop; a provider whose nodes are this process's children stops them now, while the cluster can still take their KBLs.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (provider is IProcessBoundProvider bound)
        {
            await bound.StopAll();
        }
    }

    /// <summary>One reconcile towards <paramref name="target"/>: report, then drop the messages it covers.</summary>
    private async Task<ObservedState> RoundAsync(DesiredState target, CancellationToken cancellationToken)
    {
        var observed = await provider.Reconcile(target, cancellationToken);
        await Report(observed, cancellationToken);
        if (observed.Error is null)
        {
            _applied = Math.Max(_applied, target.Generation);
            foreach (var done in _held.Where(m => m.Desired.Generation <= _applied).ToList())
            {
                await queue.Delete(done, cancellationToken);
                _held.Remove(done);
            }
        }

        return observed;
    }

    private static TimeSpan Backoff(int failures) => TimeSpan.FromSeconds(Math.Min(60, Math.Pow(2, Math.Min(failures, 6))));

    private void Accept(IReadOnlyList<QueuedState> messages)
    {
        foreach (var message in messages.OrderBy(m => m.Desired.Generation))
        {
            _held.Add(message);
            if (_target is null || message.Desired.Generation > _target.Generation)
            {
                logger.LogInformation("desired state generation {Generation} received ({Groups} node groups)", message.Desired.Generation, message.Desired.Groups.Count);
                _target = message.Desired;
            }
        }
    }

    private async Task ReadCurrent(CancellationToken cancellationToken)
    {
        try
        {
            if (await cluster.Current(cancellationToken) is { } current && (_target is null || current.Generation > _target.Generation))
            {
                _target = current;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("could not read the cluster's current plan ({Message}); waiting for the queue", e.Message);
        }
    }

    private async Task Report(ObservedState observed, CancellationToken cancellationToken)
    {
        try
        {
            await cluster.Report(observed, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("could not report the observed state to the cluster: {Message}", e.Message);
        }
    }
}
