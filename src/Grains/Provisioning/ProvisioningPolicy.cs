using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Kbl.Provisioning;

/// <summary>
/// Turns demand into a desired state. Deterministic and free of I/O: the provisioning grain runs it every period,
/// the policy simulator (bench/Kbl.PolicySim) runs it over synthetic traces.
/// </summary>
/// <remarks>
/// Per node group, the need is the most nodes any one resource asks for: operations and bytes at
/// <see cref="ProvisioningPolicyOptions.TargetUtilisation"/> of a node, KBLs per node, the colonies' redundancy
/// floor and the group's minimum (<see cref="ProvisioningPolicyOptions.MinNodesOf"/>), capped by the per-group quota. A group grows to its
/// need at once; it shrinks only after its need stayed below its size for the cool-down, and then to the highest
/// need seen during it. A group whose need exceeds the quota gives its hottest subtree (one carrying at least
/// <see cref="ProvisioningPolicyOptions.HotSubtreeShare"/> of its operations) a group of its own while the
/// cluster's group quota allows; the subtree returns once it would fit back for a cool-down.
/// </remarks>
public sealed class ProvisioningPolicy(ProvisioningPolicyOptions options)
{
    public ProvisioningPolicyOptions Options { get; } = options;

    /// <summary>
    /// One step: updates <paramref name="state"/> and says what the desired state now is and why it changed.
    /// <paramref name="standing"/> names groups that exist even without a colony (the silos' own groups);
    /// <paramref name="wanted"/> the groups a request waits for (a KBL to place or wake there, no silo up), with
    /// when it was asked: each keeps at least one node for a cool-down from then.
    /// </summary>
    public PolicyStep Step(PolicyState state, IReadOnlyCollection<ColonyDemand> colonies, DateTimeOffset now, IReadOnlyCollection<string>? standing = null, IReadOnlyDictionary<string, DateTimeOffset>? wanted = null)
    {
        var waitedFor = (wanted ?? new Dictionary<string, DateTimeOffset>()).Where(w => now - w.Value < Options.ScaleDownCoolDown).Select(w => w.Key).ToHashSet(StringComparer.Ordinal);
        var decisions = new List<(string Group, string Change, string Reason)>();

        ReleaseCooledSubtrees(state, colonies, now, decisions);
        var demand = Attribute(state, colonies);
        var groupCount = demand.Keys.Union(state.Groups.Select(g => g.Name)).Union(standing ?? []).Count();
        DedicateHotSubtree(state, colonies, demand, groupCount, now, decisions);
        demand = Attribute(state, colonies);

        foreach (var group in demand.Keys.Union(state.Groups.Select(g => g.Name)).Union(standing ?? []).Union(waitedFor).Order(StringComparer.Ordinal).ToList())
        {
            var d = demand.GetValueOrDefault(group) ?? new Load();
            var track = state.Track(group);
            var need = Need(d, group, out var why);
            if (need == 0 && waitedFor.Contains(group))
            {
                (need, why) = (1, "a request waits for a node of the group (a KBL to place or wake there)");
            }

            if (track is null)
            {
                state.Groups.Add(new GroupTrack { Name = group, Desired = need, LastAtOrAbove = now });
                decisions.Add((group, $"create with {need} node(s)", why));
                continue;
            }

            var use = track.Desired == 0 ? double.PositiveInfinity : d.Ops / (track.Desired * Options.OpsPerNode);
            var doubled = Math.Min(2 * track.Desired, LoadCeiling);
            if (use >= Options.SaturationUtilisation && track.Desired > 0 && need < doubled)
            {
                decisions.Add((group, $"scale up {track.Desired} → {doubled}", F($"saturated: {d.Ops:0.#} ops/s is {use:P0} of {track.Desired} node(s); what it could serve hides what is asked, so it doubles")));
                (track.Desired, track.LastAtOrAbove, track.PeakBelow) = (doubled, now, 0);
            }
            else if (need > track.Desired && (NeedAt(d, Options.TargetUtilisation + Options.ScaleUpTolerance) > track.Desired || need > Options.MaxNodesPerGroup - 1 || d.Floor > track.Desired || Options.MinNodesOf(group) > track.Desired || track.Desired == 0))
            {
                decisions.Add((group, $"scale up {track.Desired} → {need}", why));
                (track.Desired, track.LastAtOrAbove, track.PeakBelow) = (need, now, 0);
            }
            else if (need > track.Desired)
            {
                // Within the tolerance: the headroom absorbs it, and it counts as at or above the current size.
                (track.LastAtOrAbove, track.PeakBelow) = (now, 0);
            }
            else if (need == track.Desired)
            {
                (track.LastAtOrAbove, track.PeakBelow) = (now, 0);
            }
            else
            {
                track.PeakBelow = Math.Max(track.PeakBelow, need);
                if (now - track.LastAtOrAbove >= Options.ScaleDownCoolDown)
                {
                    decisions.Add((group, $"scale down {track.Desired} → {track.PeakBelow}",
                        $"need stayed below {track.Desired} for {Options.ScaleDownCoolDown} (highest {track.PeakBelow}); now {why}"));
                    (track.Desired, track.LastAtOrAbove, track.PeakBelow) = (track.PeakBelow, now, 0);
                }
            }
        }

        var groups = Specs(state, demand);
        var fingerprint = Fingerprint(groups);
        var changed = fingerprint != state.Fingerprint;
        if (changed)
        {
            state.Generation++;
            state.Fingerprint = fingerprint;
        }

        var desired = new DesiredState(state.Generation, now, groups);
        return new PolicyStep(desired, changed,
            [.. decisions.Select(d => new Decision(state.Generation, now, d.Group, d.Change, d.Reason))],
            Summarize(demand));
    }

    /// <summary>The demand on each node group as <paramref name="state"/> attributes it now (subtrees in their dedicated groups).</summary>
    public IReadOnlyList<GroupDemand> Demand(PolicyState state, IReadOnlyCollection<ColonyDemand> colonies) => Summarize(Attribute(state, colonies));

    /// <summary>The nodes a load needs in <paramref name="group"/>, with the resource that decided it.</summary>
    public int Need(Load load, string group, out string why)
    {
        var min = Options.MinNodesOf(group);
        var perNodeOps = Options.OpsPerNode * Options.TargetUtilisation;
        var perNodeBytes = Options.BytesPerNode * Options.TargetUtilisation;
        var candidates = new (int Nodes, string Why)[]
        {
            ForLoad(Ceiling(load.Ops / perNodeOps), F($"{load.Ops:0.#} ops/s at {perNodeOps:0.#} ops/s per node")),
            ForLoad(Ceiling(load.Bytes / perNodeBytes), F($"{load.Bytes} bytes at {perNodeBytes:0} bytes per node")),
            ForLoad(Ceiling(load.Kbls / (double)Options.KblsPerNode), F($"{load.Kbls} KBLs at {Options.KblsPerNode} per node")),
            (load.Floor, F($"redundancy floor {load.Floor}")),
            (min, F($"minimum {min}")),
        };
        var top = candidates.MaxBy(c => c.Nodes);
        if (top.Nodes > Options.MaxNodesPerGroup)
        {
            why = F($"{top.Why} needs {top.Nodes}, capped at the quota of {Options.MaxNodesPerGroup} per group");
            return Options.MaxNodesPerGroup;
        }

        why = F($"{top.Why} needs {top.Nodes}");
        return top.Nodes;
    }

    /// <summary>The most nodes load alone may ask for in a group: the quota, or less (<see cref="ProvisioningPolicyOptions.MaxNodesForLoad"/>).</summary>
    private int LoadCeiling => LoadCeilingOf(Options);

    private static int LoadCeilingOf(ProvisioningPolicyOptions options) => Math.Min(options.MaxNodesPerGroup, LoadCap(options));

    /// <summary><see cref="ProvisioningPolicyOptions.MaxNodesForLoad"/>, or no limit.</summary>
    private static int LoadCap(ProvisioningPolicyOptions options) => options.MaxNodesForLoad ?? int.MaxValue;

    /// <summary>
    /// Whether a group that load holds at one node (its quota, or <see cref="ProvisioningPolicyOptions.MaxNodesForLoad"/>)
    /// may still be relieved by giving a hot subtree a group of its own (<see cref="ProvisioningPolicyOptions.HotSubtreeShare"/>,
    /// with load allowed past the quota) — which needs the hot range to be a subtree first.
    /// </summary>
    public static bool DedicationRelievesOneNode(ProvisioningPolicyOptions options) =>
        LoadCeilingOf(options) <= 1 && options.HotSubtreeShare > 0 && LoadCap(options) > options.MaxNodesPerGroup;

    /// <summary>A load's need held to <see cref="ProvisioningPolicyOptions.MaxNodesForLoad"/>, saying so when it is.</summary>
    private (int Nodes, string Why) ForLoad(int nodes, string why) =>
        Options.MaxNodesForLoad is { } most && nodes > most
            ? (most, F($"{why} would need {nodes}, held to MaxNodesForLoad {most} (more silos on the same cores add no capacity)"))
            : (nodes, why);

    /// <summary>The name of the group a hot subtree gets: short, stable, valid for EKS and Kubernetes.</summary>
    public static string DedicatedGroupName(string colony, string path) =>
        DedicatedPrefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{colony}/{path}")))[..10];

    private const string DedicatedPrefix = "hot-";

    /// <summary>Whether <paramref name="group"/> is (or was) one the policy made for a hot subtree (<see cref="DedicatedGroupName"/>).</summary>
    private static bool IsDedicated(string group) =>
        group.Length == DedicatedPrefix.Length + 10 && group.StartsWith(DedicatedPrefix, StringComparison.Ordinal) && group[DedicatedPrefix.Length..].All(char.IsAsciiHexDigitLower);

    private static int Ceiling(double value) => value <= 0 ? 0 : (int)Math.Min(int.MaxValue, Math.Ceiling(value - 1e-9));

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    /// <summary>What makes two desired states the same: every group's sizes and what it carries (the time does not count).</summary>
    private static string Fingerprint(IEnumerable<NodeGroupSpec> groups) =>
        string.Join(';', groups.Select(g => $"{g.Name}={g.Min}/{g.Desired}/{g.Max}:{string.Join(',', g.Subtrees)}"));

    /// <summary>
    /// Sums demand per group: a colony's goes to the groups its awake leaves are in (its own group, and those its
    /// moved subtrees went to, each with the colony's redundancy floor), and a subtree given a group of its own counts
    /// there while it is still on its way.
    /// </summary>
    private static Dictionary<string, Load> Attribute(PolicyState state, IReadOnlyCollection<ColonyDemand> colonies)
    {
        var loads = new Dictionary<string, Load>(StringComparer.Ordinal);
        Load At(string group) => loads.TryGetValue(group, out var l) ? l : loads[group] = new Load();
        foreach (var colony in colonies)
        {
            var home = At(colony.NodeGroup);
            home.Colonies.Add(colony.Colony);

            // The parts of the colony an operator moved to other groups count there; the rest — its own group's, and a
            // hot subtree's in a group made for it, which its assignment accounts for below, whether it is on its way
            // there, in it, or on its way back — counts in its own group.
            var elsewhere = colony.Groups.Where(g => g.NodeGroup != colony.NodeGroup && !IsDedicated(g.NodeGroup) && (g.Kbls > 0 || g.OpsPerSecond > 0)).ToList();
            home.Add(
                colony.OpsPerSecond - elsewhere.Sum(g => g.OpsPerSecond),
                colony.Bytes - elsewhere.Sum(g => g.Bytes),
                colony.Kbls - elsewhere.Sum(g => g.Kbls),
                colony.Kbls > elsewhere.Sum(g => g.Kbls) || colony.Groups.Count == 0 ? colony.RedundancyFloor : 0);
            foreach (var share in elsewhere)
            {
                var there = At(share.NodeGroup);
                there.Add(share.OpsPerSecond, share.Bytes, share.Kbls, share.Kbls > 0 ? colony.RedundancyFloor : 0);
                there.Colonies.Add(colony.Colony);
            }

            foreach (var assignment in state.Assignments.Where(a => a.Colony == colony.Colony))
            {
                var sub = colony.Subtrees.FirstOrDefault(s => s.Path == assignment.Path);
                var target = At(assignment.NodeGroup);
                target.Floor = Math.Max(target.Floor, colony.RedundancyFloor);
                if (sub is not null)
                {
                    home.Add(-sub.OpsPerSecond, -sub.Bytes, -sub.Kbls, 0);
                    target.Add(sub.OpsPerSecond, sub.Bytes, sub.Kbls, 0);
                }
            }
        }

        foreach (var assignment in state.Assignments)
        {
            At(assignment.NodeGroup);
        }

        return loads;
    }

    private void DedicateHotSubtree(PolicyState state, IReadOnlyCollection<ColonyDemand> colonies, Dictionary<string, Load> demand, int groupCount, DateTimeOffset now, List<(string, string, string)> decisions)
    {
        if (Options.HotSubtreeShare <= 0)
        {
            return;
        }

        foreach (var (group, load) in demand.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            if (groupCount >= Options.MaxNodeGroups || RawNeed(load) <= Options.MaxNodesPerGroup)
            {
                continue;
            }

            var hottest = colonies
                .Where(c => c.NodeGroup == group)
                .SelectMany(c => c.Subtrees.Select(s => (Colony: c, Subtree: s)))
                .Where(x => !state.Assignments.Any(a => a.Colony == x.Colony.Colony && a.Path == x.Subtree.Path))
                .OrderByDescending(x => x.Subtree.OpsPerSecond)
                .FirstOrDefault();
            if (hottest.Subtree is null || hottest.Subtree.OpsPerSecond < Options.HotSubtreeShare * load.Ops)
            {
                continue;
            }

            var name = DedicatedGroupName(hottest.Colony.Colony, hottest.Subtree.Path);
            state.Assignments.Add(new SubtreeAssignment { Colony = hottest.Colony.Colony, Path = hottest.Subtree.Path, NodeGroup = name, FromGroup = group });
            state.Groups.Add(new GroupTrack { Name = name, Desired = 0, LastAtOrAbove = now, Dedicated = true });
            decisions.Add((name, $"dedicate to {hottest.Colony.Colony}/{hottest.Subtree.Path}",
                F($"group {group} needs {RawNeed(load)} nodes, over its quota of {Options.MaxNodesPerGroup}; the subtree carries {hottest.Subtree.OpsPerSecond:0.#} of {load.Ops:0.#} ops/s")));
            return; // one new group per step: the next step sees its effect
        }
    }

    private void ReleaseCooledSubtrees(PolicyState state, IReadOnlyCollection<ColonyDemand> colonies, DateTimeOffset now, List<(string, string, string)> decisions)
    {
        var demand = Attribute(state, colonies);
        foreach (var assignment in state.Assignments.ToList())
        {
            var colony = colonies.FirstOrDefault(c => c.Colony == assignment.Colony);
            var sub = colony?.Subtrees.FirstOrDefault(s => s.Path == assignment.Path);
            var home = demand.GetValueOrDefault(assignment.FromGroup) ?? new Load();
            var together = new Load();
            together.Add(home.Ops + (sub?.OpsPerSecond ?? 0), home.Bytes + (sub?.Bytes ?? 0), home.Kbls + (sub?.Kbls ?? 0), home.Floor);
            var releaseUtilisation = Options.TargetUtilisation * (1 - Options.HotSubtreeReleaseHeadroom);
            if (NeedAt(together, releaseUtilisation) > Options.MaxNodesPerGroup)
            {
                assignment.FitsBackSince = null;
                continue;
            }

            assignment.FitsBackSince ??= now;
            if (now - assignment.FitsBackSince.Value < Options.ScaleDownCoolDown)
            {
                continue;
            }

            state.Assignments.Remove(assignment);
            state.Groups.RemoveAll(g => g.Name == assignment.NodeGroup && g.Dedicated);

            // The next subtree is judged against its group with this one back in it.
            demand = Attribute(state, colonies);
            decisions.Add((assignment.NodeGroup, $"remove; {assignment.Subtree} returns to {assignment.FromGroup}",
                F($"{assignment.FromGroup} with the subtree would need {NeedAt(together, releaseUtilisation)} node(s) at {releaseUtilisation:0.##} utilisation, within its quota, for {Options.ScaleDownCoolDown}")));
        }
    }

    /// <summary>The nodes the load's operations and bytes need at <paramref name="utilisation"/> (no floor, no quota; at most <see cref="ProvisioningPolicyOptions.MaxNodesForLoad"/>).</summary>
    private int NeedAt(Load load, double utilisation) => Math.Min(LoadCap(Options), Math.Max(
        Ceiling(load.Ops / (Options.OpsPerNode * utilisation)),
        Math.Max(Ceiling(load.Bytes / (Options.BytesPerNode * utilisation)), Ceiling(load.Kbls / (double)Options.KblsPerNode))));

    /// <summary>The nodes a load needs at the target use, before floors and quotas.</summary>
    private int RawNeed(Load load) => NeedAt(load, Options.TargetUtilisation);

    private List<GroupDemand> Summarize(Dictionary<string, Load> demand) =>
        [.. demand.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => new GroupDemand(d.Key, d.Value.Ops, d.Value.Bytes, d.Value.Kbls, d.Value.Floor, Need(d.Value, d.Key, out _)))];

    private List<NodeGroupSpec> Specs(PolicyState state, Dictionary<string, Load> demand)
    {
        var taints = Options.Taints.Select(t => NodeTaints.TryParse(t, out var taint) ? taint : throw new InvalidOperationException(t)).ToList();
        return [.. state.Groups.OrderBy(g => g.Name, StringComparer.Ordinal).Select(g =>
        {
            var labels = new Dictionary<string, string>(Options.Labels, StringComparer.Ordinal) { ["kbl.io/node-group"] = g.Name };
            if (g.Dedicated)
            {
                labels["kbl.io/dedicated"] = "true";
            }

            var subtrees = (demand.GetValueOrDefault(g.Name)?.Colonies ?? []).Order(StringComparer.Ordinal)
                .Concat(state.Assignments.Where(a => a.NodeGroup == g.Name).Select(a => a.Subtree)).ToList();
            var floor = Math.Min(Options.MaxNodesPerGroup, Math.Max(Options.MinNodesOf(g.Name), demand.GetValueOrDefault(g.Name)?.Floor ?? 0));
            return new NodeGroupSpec(g.Name, floor, Options.MaxNodesPerGroup, g.Desired, Options.InstanceType, [.. Options.Zones], labels, taints, subtrees);
        })];
    }

    /// <summary>A group's summed demand.</summary>
    public sealed class Load
    {
        public double Ops { get; private set; }

        public long Bytes { get; private set; }

        public int Kbls { get; private set; }

        public int Floor { get; set; }

        public HashSet<string> Colonies { get; } = new(StringComparer.Ordinal);

        public void Add(double ops, long bytes, int kbls, int floor)
        {
            (Ops, Bytes, Kbls) = (Math.Max(0, Ops + ops), Math.Max(0, Bytes + bytes), Math.Max(0, Kbls + kbls));
            Floor = Math.Max(Floor, floor);
        }
    }
}

/// <summary>The outcome of one policy step.</summary>
public sealed record PolicyStep(DesiredState Desired, bool Changed, IReadOnlyList<Decision> Decisions, IReadOnlyList<GroupDemand> Demand);
