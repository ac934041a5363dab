using Kbl.NodeGroups;
using Kbl.Provisioning;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.NodeGroups;

/// <summary>
/// Wakes the provisioning grain once the silo serves, so a plan exists (and its period timer runs) before any colony
/// reports; a colony's root keeps it awake afterwards, and so does its own timer.
/// </summary>
/// <remarks>
/// A silo started by hand or by a deployment keeps its node group in the plan; a silo the local provider started
/// (the provider's own: it does not reconcile) does not, or a group could never be removed.
/// </remarks>
public sealed class ProvisioningStarter(IGrainFactory grains, KblSettings settings, IHostApplicationLifetime lifetime, ILogger<ProvisioningStarter> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using var registration = lifetime.ApplicationStarted.Register(started.SetResult);
        await started.Task.WaitAsync(stoppingToken);
        for (var attempt = 1; !stoppingToken.IsCancellationRequested; attempt++)
        {
            try
            {
                var grain = grains.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key);
                if (settings.Provisioning.Provider != ProviderKind.Local || settings.Reconciles)
                {
                    await grain.Stand(settings.Kbl.NodeGroup);
                }

                await grain.Evaluate();
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException && attempt < 30)
            {
                logger.LogDebug(e, "the provisioning grain is not reachable yet");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }
}
