using Kbl.Provisioning;

namespace Kbl.PolicySim;

/// <summary>
/// The active window over a fleet: <see cref="Colonies"/> colonies, <see cref="ColoniesPerGroup"/> to a node group,
/// each active for <see cref="ActiveHours"/> a day at a phase of its own (so about a tenth are active at any hour),
/// with Zipf-distributed load (the colony of rank r offers <see cref="TopOps"/>/r ops/s while active) and
/// <see cref="BytesPerColony"/> of records in two copies. Always-on: every colony keeps its records on its group's
/// silos. Windowed: a colony idle for <see cref="HibernateAfter"/> hibernates (its demand, bytes and floor leave the
/// plan; its groups may go to zero); when it becomes active again its requests wait for a node of its group (a
/// wake asks for one at once) and for the wake itself — those minutes count as SLO violations.
/// </summary>
public static class Window
{
    public const int Colonies = 200;
    public const int ColoniesPerGroup = 5;
    public const double ActiveHours = 2.4;
    public const double TopOps = 20_000;
    public const long BytesPerColony = 10L << 30;
    public static readonly TimeSpan HibernateAfter = TimeSpan.FromMinutes(10);

    /// <summary>How long a woken colony's leaves take to ingest their snapshots once a node is ready (measured by bench/wake.sh for 10k-record leaves: well under a second; a minute is generous).</summary>
    public static readonly TimeSpan WakeTime = TimeSpan.FromMinutes(1);

    private static int Groups => Colonies / ColoniesPerGroup;

    public static Result Run(World world, TimeSpan length, bool windowed, int seed, TimeSpan? coolDown = null)
    {
        var random = new Random(seed);
        var phase = Enumerable.Range(0, Colonies).Select(_ => random.NextDouble() * 24).ToArray();
        var rank = Enumerable.Range(1, Colonies).OrderBy(_ => random.Next()).ToArray(); // which colony is how busy: no link to its group
        var options = new ProvisioningPolicyOptions { OpsPerNode = world.OpsPerNode, MaxNodesPerGroup = world.MaxNodesPerGroup, MaxNodeGroups = Groups + 10, HotSubtreeShare = 0 };
        options.ScaleDownCoolDown = coolDown ?? options.ScaleDownCoolDown;
        if (windowed)
        {
            for (var g = 0; g < Groups; g++)
            {
                options.GroupMinNodes[$"g{g}"] = 0;
            }
        }

        var policy = new ProvisioningPolicy(options);
        var state = new PolicyState();
        var nodes = new Dictionary<string, List<TimeSpan>>();
        var idleSince = new TimeSpan?[Colonies];
        var asleep = new bool[Colonies];
        var awakeAt = new TimeSpan?[Colonies]; // a woken colony serves from then (a node ready, its leaves ingested)
        var wanted = new Dictionary<string, DateTimeOffset>();
        double nodeHours = 0, violationMinutes = 0;
        int peak = 0, wakes = 0;
        for (var t = TimeSpan.Zero; t < length + world.WarmUp; t += world.Step)
        {
            var ready = nodes.ToDictionary(n => n.Key, n => n.Value.Count(at => t - at >= world.BootDelay));
            var offered = new double[Groups];
            var colonies = new List<ColonyDemand>();
            for (var c = 0; c < Colonies; c++)
            {
                var group = $"g{c / ColoniesPerGroup}";
                var ops = Active(phase[c], t.TotalHours) ? TopOps / rank[c] : 0;
                offered[c / ColoniesPerGroup] += ops;
                idleSince[c] = ops > 0 ? null : idleSince[c] ?? t;
                if (windowed && !asleep[c] && idleSince[c] is { } idle && t - idle >= HibernateAfter)
                {
                    asleep[c] = true;
                }

                if (asleep[c] && ops > 0)
                {
                    // A request waits: the group is wanted, and the colony serves once a node is ready and it has woken.
                    wanted[group] = DateTimeOffset.UnixEpoch + t;
                    if (ready.GetValueOrDefault(group) > 0)
                    {
                        awakeAt[c] ??= t + WakeTime;
                        if (t >= awakeAt[c])
                        {
                            (asleep[c], awakeAt[c]) = (false, null);
                            wakes++;
                        }
                    }

                    if (asleep[c] && t >= world.WarmUp)
                    {
                        violationMinutes += world.Step.TotalMinutes; // its requests wait for the wake
                    }
                }

                colonies.Add(asleep[c]
                    ? new ColonyDemand($"c{c}", group, 0, 0, 0, 0, [])
                    : new ColonyDemand($"c{c}", group, ops, BytesPerColony * 2, 8, 2, []));
            }

            for (var g = 0; g < Groups; g++)
            {
                if (t >= world.WarmUp && offered[g] > ready.GetValueOrDefault($"g{g}") * world.OpsPerNode && ready.GetValueOrDefault($"g{g}") > 0)
                {
                    violationMinutes += world.Step.TotalMinutes; // a group too small for what its awake colonies ask
                }
            }

            var step = policy.Step(state, colonies, DateTimeOffset.UnixEpoch + t, null, wanted);
            foreach (var group in step.Desired.Groups)
            {
                Simulation.Resize(world, nodes, group.Name, group.Desired, t);
            }

            if (t < world.WarmUp)
            {
                continue;
            }

            var total = nodes.Values.Sum(n => n.Count);
            nodeHours += total * world.Step.TotalHours;
            peak = Math.Max(peak, total);
        }

        var policyName = (windowed ? $"windowed (hibernate after {HibernateAfter.TotalMinutes} min, groups may go to zero; {wakes} wakes)" : "always on") +
            $", cool-down {options.ScaleDownCoolDown.TotalMinutes} min";
        return new Result(policyName, nodeHours, violationMinutes, peak, Groups);
    }

    /// <summary>Whether a colony whose day starts at <paramref name="phase"/> hours is active at <paramref name="hours"/>.</summary>
    private static bool Active(double phase, double hours) => ((hours - phase) % 24 + 24) % 24 < ActiveHours;
}
