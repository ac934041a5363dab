using System.Text.Json;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Provisioning;

/// <summary>
/// The colony's provisioning grain: collects per-colony demand from the roots, runs <see cref="ProvisioningPolicy"/>
/// every period, persists each new desired state before it publishes it, republishes while no Provisioner has
/// reported it applied, and moves hot subtrees onto (and back off) their dedicated groups.
/// </summary>
[GrainType("kbl-provisioning")]
public sealed class ProvisioningGrain(
    [PersistentState("provisioning", KblStorage.Name)] IPersistentState<ProvisioningState> state,
    IOptions<ProvisioningPolicyOptions> options,
    IServiceProvider services,
    TimeProvider time,
    ILogger<ProvisioningGrain> logger) : Grain, IProvisioningGrain
{
    private const int KeptDecisions = 100;

    /// <summary>How long a deleted colony's late reports are ignored: far longer than any message is on its way.</summary>
    private static readonly TimeSpan ForgetFor = TimeSpan.FromHours(1);
    private readonly ProvisioningPolicy _policy = new(options.Value);
    private readonly IDesiredStatePublisher _publisher = services.GetService<IDesiredStatePublisher>() ?? new NoPublisher();
    private readonly Dictionary<string, DateTimeOffset> _reportedAt = [];

    /// <summary>Groups a request waits for, and since when (kept in memory: a request still waiting asks again).</summary>
    private readonly Dictionary<string, DateTimeOffset> _wanted = new(StringComparer.Ordinal);
    private long _published;
    private DateTimeOffset _publishedAt;
    private IGrainTimer? _timer;

    private ProvisioningState S => state.State;

    private TimeSpan Period => options.Value.Period;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _timer = this.RegisterGrainTimer(OnTick, new GrainTimerCreationOptions(Period, Period) { Interleave = false, KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task ReportDemand(ColonyDemand demand)
    {
        if (S.Forgotten.TryGetValue(demand.Colony, out var forgotten))
        {
            if (forgotten.Incarnation == demand.Incarnation)
            {
                return Task.CompletedTask; // sent before its colony was deleted, and arrived after
            }

            S.Forgotten.Remove(demand.Colony); // the colony was created again
        }

        S.Demand[demand.Colony] = demand;
        _reportedAt[demand.Colony] = time.GetUtcNow();
        return Task.CompletedTask;
    }

    public Task<ProvisioningPlan> GetPlan() => Task.FromResult(new ProvisioningPlan(
        _publisher.Provider, S.Desired, S.Observed, _policy.Demand(S.Policy, Demand()), [.. S.Decisions]));

    public async Task ForgetColony(string colony, long incarnation)
    {
        S.Demand.Remove(colony);
        _reportedAt.Remove(colony);
        foreach (var assignment in S.Policy.Assignments.Where(a => a.Colony == colony).ToList())
        {
            // The subtree is gone: its dedicated group has nothing to carry, and nothing moves back.
            S.Policy.Assignments.Remove(assignment);
            S.Policy.Groups.RemoveAll(g => g.Name == assignment.NodeGroup && g.Dedicated);
            S.MovedSubtrees.Remove(assignment.Subtree);
        }

        S.MovedSubtrees.RemoveWhere(s => s.StartsWith(colony + "/", StringComparison.Ordinal));
        S.Forgotten[colony] = new ForgottenColony(incarnation, time.GetUtcNow());
        await state.WriteStateAsync();
        logger.LogInformation("provisioning: colony {Colony} was deleted; its demand left the plan", colony);
    }

    public async Task ReportObserved(ObservedState observed)
    {
        if (S.Observed is null || observed.Generation >= S.Observed.Generation)
        {
            S.Observed = observed;
            await state.WriteStateAsync();
        }

        // Subtrees move on the next tick, not here: a Provisioner's report should not wait for records to travel.
    }

    public async Task Stand(string nodeGroup)
    {
        // A group made for a hot subtree goes when the subtree cools, whatever silos it has meanwhile.
        if (S.Policy.Track(nodeGroup) is not { Dedicated: true } && S.Standing.Add(nodeGroup))
        {
            await state.WriteStateAsync();
            await Step();
        }
    }

    public async Task Want(string nodeGroup)
    {
        var first = !_wanted.ContainsKey(nodeGroup);
        _wanted[nodeGroup] = time.GetUtcNow();
        if (first || S.Desired?.Groups.FirstOrDefault(g => g.Name == nodeGroup) is not { Desired: > 0 })
        {
            logger.LogInformation("a request waits for a node of group {Group}", nodeGroup);
            await Step(); // at once: the request is waiting
        }
    }

    public async Task<DesiredState> Evaluate()
    {
        await Step();
        return S.Desired!;
    }

    private async Task OnTick(CancellationToken cancellationToken)
    {
        try
        {
            await Step();
            await MoveDedicatedSubtrees();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "provisioning step failed; retrying next period");
        }
    }

    private async Task Step()
    {
        var now = time.GetUtcNow();
        foreach (var (colony, _) in S.Forgotten.Where(f => now - f.Value.At > ForgetFor).ToList())
        {
            S.Forgotten.Remove(colony);
        }

        var policy = Clone(S.Policy);
        foreach (var (group, _) in _wanted.Where(w => now - w.Value >= options.Value.ScaleDownCoolDown).ToList())
        {
            _wanted.Remove(group);
        }

        var step = _policy.Step(policy, Demand(), now, S.Standing, _wanted);
        if (!step.Changed && S.Desired is not null)
        {
            // The cool-down clocks moved on: keep them (they are persisted with the next change).
            S.Policy = policy;
        }
        else
        {
            // A subtree leaves its dedicated group before the group may go away: move it home first, or wait.
            foreach (var released in S.Policy.Assignments.Where(a => !policy.Assignments.Any(p => p.Subtree == a.Subtree)))
            {
                if (S.MovedSubtrees.Contains(released.Subtree) && !await MoveSubtree(released.Colony, released.Path, released.FromGroup))
                {
                    return;
                }

                S.MovedSubtrees.Remove(released.Subtree);
            }

            S.Policy = policy;
            S.Desired = step.Desired;
            S.Decisions.AddRange(step.Decisions);
            S.Decisions.RemoveRange(0, Math.Max(0, S.Decisions.Count - KeptDecisions));
            await state.WriteStateAsync();
            foreach (var decision in step.Decisions)
            {
                logger.LogInformation("provisioning generation {Generation}: {Group}: {Change} ({Reason})", decision.Generation, decision.NodeGroup, decision.Change, decision.Reason);
            }
        }

        // Publish a new generation at once; republish the current one while nobody reports it applied (a lost message).
        var applied = S.Observed?.Generation ?? 0;
        if (S.Desired.Generation > _published || (applied < S.Desired.Generation && now - _publishedAt >= 3 * Period))
        {
            await _publisher.Publish(S.Desired, CancellationToken.None);
            (_published, _publishedAt) = (S.Desired.Generation, now);
        }
    }

    /// <summary>Colonies' demand; a colony silent for three periods keeps its size but no longer its rates.</summary>
    private List<ColonyDemand> Demand()
    {
        var now = time.GetUtcNow();
        return [.. S.Demand.Values.Select(d =>
            _reportedAt.TryGetValue(d.Colony, out var at) && now - at <= 3 * Period
                ? d
                : d with { OpsPerSecond = 0, Subtrees = [.. d.Subtrees.Select(s => s with { OpsPerSecond = 0 })], Groups = [.. d.Groups.Select(g => g with { OpsPerSecond = 0 })] })];
    }

    private async Task MoveDedicatedSubtrees()
    {
        foreach (var assignment in S.Policy.Assignments.Where(a => !S.MovedSubtrees.Contains(a.Subtree)))
        {
            if (S.Observed?.Groups.FirstOrDefault(g => g.Name == assignment.NodeGroup) is { Ready: > 0 } &&
                await MoveSubtree(assignment.Colony, assignment.Path, assignment.NodeGroup))
            {
                S.MovedSubtrees.Add(assignment.Subtree);
                await state.WriteStateAsync();
            }
        }
    }

    private async Task<bool> MoveSubtree(string colony, string path, string nodeGroup)
    {
        var result = await GrainFactory.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, path)).Move(nodeGroup);
        if (result.Error is not null)
        {
            logger.LogWarning("moving {Colony}/{Path} to node group {Group} failed: {Error}", colony, path, nodeGroup, result.Error);
        }

        // A subtree that no longer exists (merged away, colony gone) has nothing to move.
        return result.Error is null;
    }

    private static PolicyState Clone(PolicyState policy) =>
        JsonSerializer.Deserialize<PolicyState>(JsonSerializer.Serialize(policy))!;
}
