using Kbl.Provisioning;

namespace Kbl.PolicySim;

/// <summary>The simulated cloud: how fast nodes come, how much they serve, the quotas.</summary>
public sealed record World(double OpsPerNode, TimeSpan Step, TimeSpan BootDelay, int MaxNodesPerGroup, int MaxNodeGroups)
{
    /// <summary>Every policy starts cold; the first hour is run but not counted.</summary>
    public TimeSpan WarmUp { get; init; } = TimeSpan.FromHours(1);
}

public sealed record Result(string Policy, double NodeHours, double ViolationMinutes, int PeakNodes, int MaxGroups);

/// <summary>
/// Runs one policy over one trace. Every step each node group has its asked-for nodes (paid for from the moment
/// they are asked for) of which those asked for at least <see cref="World.BootDelay"/> ago are ready. A group whose
/// offered load exceeds its ready nodes' capacity violates its SLO for that step. Policies see the load the group
/// served (offered, capped at its ready capacity), as Kbl's feedback and a CPU metric would.
/// </summary>
public static class Simulation
{
    /// <summary>Static provisioning for the peak: each group gets, for the whole trace, what its peak needs at 70 % use.</summary>
    public static Result Static(World world, Trace trace, TimeSpan length)
    {
        var peaks = new double[Trace.Groups];
        for (var t = TimeSpan.Zero; t < length; t += world.Step)
        {
            for (var g = 0; g < Trace.Groups; g++)
            {
                peaks[g] = Math.Max(peaks[g], GroupOps(trace, g, t.TotalHours));
            }
        }

        var nodes = peaks.Select(p => (int)Math.Ceiling(p / (world.OpsPerNode * 0.7))).ToArray();
        return Run(world, trace, length, "static for the peak", (_, _, _) => nodes.Select((n, g) => ($"g{g}", n, (int?)null)).ToList());
    }

    /// <summary>
    /// A reactive utilisation-threshold autoscaler, as Cluster Autoscaler with an HPA would act: above 80 % use a
    /// group grows to bring use to 70 % (HPA's ceil(nodes × use / target)); below 50 % use for 10 minutes
    /// (Cluster Autoscaler's scale-down-unneeded-time) it gives back one node. Use is measured on ready nodes and
    /// cannot exceed 100 %.
    /// </summary>
    public static Result Reactive(World world, Trace trace, TimeSpan length)
    {
        var asked = Enumerable.Repeat(1, Trace.Groups).ToArray();
        var lowSince = new TimeSpan?[Trace.Groups];
        return Run(world, trace, length, "reactive threshold (CA/HPA-like)", (t, served, ready) =>
        {
            for (var g = 0; g < Trace.Groups; g++)
            {
                var readyNodes = ready.GetValueOrDefault($"g{g}");
                var use = readyNodes == 0 ? 1 : served.GetValueOrDefault($"g{g}") / (readyNodes * world.OpsPerNode);
                if (use > 0.8)
                {
                    asked[g] = Math.Min(world.MaxNodesPerGroup, Math.Max(asked[g], (int)Math.Ceiling(Math.Max(1, readyNodes) * use / 0.7)));
                    lowSince[g] = null;
                }
                else if (use < 0.5 && asked[g] > 1)
                {
                    lowSince[g] ??= t;
                    if (t - lowSince[g] >= TimeSpan.FromMinutes(10))
                    {
                        asked[g]--;
                        lowSince[g] = t;
                    }
                }
                else
                {
                    lowSince[g] = null;
                }
            }

            return asked.Select((n, g) => ($"g{g}", n, (int?)null)).ToList();
        });
    }

    /// <summary>Kbl's <see cref="ProvisioningPolicy"/> with its defaults (70 % target use, 15-minute cool-down, hot subtrees get their own group).</summary>
    public static Result Kbl(World world, Trace trace, TimeSpan length, TimeSpan? coolDown = null)
    {
        var options = new ProvisioningPolicyOptions
        {
            OpsPerNode = world.OpsPerNode,
            MaxNodesPerGroup = world.MaxNodesPerGroup,
            MaxNodeGroups = world.MaxNodeGroups,
            KblsPerNode = 2_000,
        };
        options.ScaleDownCoolDown = coolDown ?? options.ScaleDownCoolDown;
        var policy = new ProvisioningPolicy(options);
        var state = new PolicyState();
        return Run(world, trace, length, coolDown is null ? "Kbl policy" : $"Kbl policy, cool-down {coolDown.Value.TotalMinutes} min", (t, served, ready) =>
        {
            var offered = OfferedByGroup(trace, t.TotalHours, state, ready);
            var colonies = new List<ColonyDemand>();
            for (var c = 0; c < Trace.Groups * Trace.ColoniesPerGroup; c++)
            {
                var subtrees = Enumerable.Range(c * Trace.SubtreesPerColony, Trace.SubtreesPerColony)
                    .Select(s => new SubtreeDemand($"r.{s % Trace.SubtreesPerColony}", ServedShare(trace, s, t.TotalHours, served, ready, state, offered), 1L << 30, Trace.LeavesPerSubtree))
                    .ToList();
                colonies.Add(new ColonyDemand($"c{c}", $"g{c / Trace.ColoniesPerGroup}", subtrees.Sum(s => s.OpsPerSecond), subtrees.Sum(s => s.Bytes), subtrees.Sum(s => s.Kbls), 1, subtrees));
            }

            var step = policy.Step(state, colonies, DateTimeOffset.UnixEpoch + t);
            return step.Desired.Groups.Select(g => (g.Name, g.Desired, (int?)null)).ToList();
        }, state);
    }

    /// <summary>A subtree's served load: its offered load scaled by its current group's served/offered ratio.</summary>
    private static double ServedShare(Trace trace, int subtree, double hours, Dictionary<string, double> served, Dictionary<string, int> ready, PolicyState state, Dictionary<string, double> offeredByGroup)
    {
        var group = GroupFor(subtree, state, ready);
        var offered = offeredByGroup.GetValueOrDefault(group);
        return offered <= 0 ? 0 : trace.Ops(subtree, hours) * (served.GetValueOrDefault(group) / offered);
    }

    /// <summary>The group serving a subtree: its dedicated group once that has a ready node (the grain moves it then), else its own.</summary>
    private static string GroupFor(int subtree, PolicyState? state, Dictionary<string, int> ready)
    {
        var colony = $"c{Trace.ColonyOf(subtree)}";
        var path = $"r.{subtree % Trace.SubtreesPerColony}";
        var assignment = state?.Assignments.FirstOrDefault(a => a.Colony == colony && a.Path == path);
        return assignment is not null && ready.GetValueOrDefault(assignment.NodeGroup) > 0 ? assignment.NodeGroup : $"g{Trace.GroupOf(subtree)}";
    }

    private static Dictionary<string, double> OfferedByGroup(Trace trace, double hours, PolicyState? state, Dictionary<string, int> ready)
    {
        var offered = new Dictionary<string, double>();
        for (var s = 0; s < Trace.Subtrees; s++)
        {
            var group = GroupFor(s, state, ready);
            offered[group] = offered.GetValueOrDefault(group) + trace.Ops(s, hours);
        }

        return offered;
    }

    private static double GroupOps(Trace trace, int group, double hours) =>
        Enumerable.Range(0, Trace.Subtrees).Where(s => Trace.GroupOf(s) == group).Sum(s => trace.Ops(s, hours));

    /// <summary>
    /// Gives <paramref name="group"/> <paramref name="count"/> asked-for nodes at <paramref name="t"/> (each listed with
    /// when it was asked for): new ones are ready a boot later; shrinking gives back the youngest first.
    /// </summary>
    internal static void Resize(World world, Dictionary<string, List<TimeSpan>> nodes, string group, int count, TimeSpan t)
    {
        var list = nodes.TryGetValue(group, out var l) ? l : nodes[group] = [];
        while (list.Count < count)
        {
            // What a policy asks for at the start is there from the start: every run begins warm.
            list.Add(t == TimeSpan.Zero ? -world.BootDelay : t);
        }

        // Shrinking gives back the youngest nodes first (booting ones before serving ones).
        list.Sort();
        if (list.Count > count)
        {
            list.RemoveRange(count, list.Count - count);
        }
    }

    private delegate List<(string Group, int Nodes, int? Unused)> Decide(TimeSpan now, Dictionary<string, double> served, Dictionary<string, int> ready);

    private static Result Run(World world, Trace trace, TimeSpan length, string name, Decide decide, PolicyState? state = null)
    {
        // Per group: when each asked-for node was asked for (ready BootDelay later).
        var nodes = new Dictionary<string, List<TimeSpan>>();
        var served = new Dictionary<string, double>();
        double nodeHours = 0, violationMinutes = 0;
        int peak = 0, maxGroups = 0;
        for (var t = TimeSpan.Zero; t < length + world.WarmUp; t += world.Step)
        {
            var ready = nodes.ToDictionary(n => n.Key, n => n.Value.Count(at => t - at >= world.BootDelay));
            var offered = OfferedByGroup(trace, t.TotalHours, state, ready);
            served = offered.ToDictionary(o => o.Key, o => Math.Min(o.Value, ready.GetValueOrDefault(o.Key) * world.OpsPerNode));
            foreach (var (group, load) in offered)
            {
                if (t >= world.WarmUp && load > ready.GetValueOrDefault(group) * world.OpsPerNode)
                {
                    if (Environment.GetEnvironmentVariable("SIM_DEBUG") == name)
                    {
                        Console.Error.WriteLine($"{t} {group} offered {load:0} ready {ready.GetValueOrDefault(group)} asked {nodes.GetValueOrDefault(group)?.Count}");
                    }

                    violationMinutes += world.Step.TotalMinutes;
                }
            }

            var wanted = decide(t, served, ready);
            foreach (var (group, count, _) in wanted)
            {
                Resize(world, nodes, group, count, t);
            }

            foreach (var gone in nodes.Keys.Except(wanted.Select(w => w.Group)).ToList())
            {
                nodes.Remove(gone);
            }

            if (t < world.WarmUp)
            {
                continue;
            }

            var total = nodes.Values.Sum(n => n.Count);
            nodeHours += total * world.Step.TotalHours;
            peak = Math.Max(peak, total);
            maxGroups = Math.Max(maxGroups, nodes.Count);
        }

        return new Result(name, nodeHours, violationMinutes, peak, maxGroups);
    }
}
