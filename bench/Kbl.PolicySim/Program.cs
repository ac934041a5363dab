using System.Globalization;
using Kbl.PolicySim;
using Kbl.Provisioning;

// The provisioning policy simulator: deterministic, time-compressed, no cluster. It runs Kbl's ProvisioningPolicy
// and two baselines over synthetic traces and prints node-hours and SLO-violation minutes side by side.
//   dotnet run -c Release --project bench/Kbl.PolicySim [-- --days 2 --seed 7]
var days = 2.0;
var seed = 7;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--days":
            days = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        case "--seed":
            seed = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; use --days N --seed N");
            return 2;
    }
}

var world = new World(
    OpsPerNode: 5_000,
    Step: TimeSpan.FromSeconds(15),
    BootDelay: TimeSpan.FromMinutes(3),
    MaxNodesPerGroup: 30,
    MaxNodeGroups: 30);
var length = TimeSpan.FromDays(days);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"# {Trace.Groups} node groups × {Trace.ColoniesPerGroup} colonies × {Trace.SubtreesPerColony} subtrees × {Trace.LeavesPerSubtree} leaves = {Trace.Subtrees * Trace.LeavesPerSubtree} KBLs; {days} days in {world.Step.TotalSeconds} s steps; seed {seed}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"# a node serves {world.OpsPerNode} ops/s; new nodes are ready {world.BootDelay.TotalMinutes} min after they are asked for; at most {world.MaxNodesPerGroup} nodes per group"));
Console.WriteLine();
Console.WriteLine("| trace | policy | node-hours | vs static | SLO-violation minutes | peak nodes | node groups (max) |");
Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
foreach (var kind in new[] { "diurnal", "bursts", "moving-hot-range" })
{
    var trace = new Trace(kind, seed, length, baseOpsPerSubtree: 1_500, hotOps: 60_000);
    var results = new[]
    {
        Simulation.Static(world, trace, length), Simulation.Reactive(world, trace, length), Simulation.Kbl(world, trace, length),
        Simulation.Kbl(world, trace, length, TimeSpan.FromMinutes(5)), Simulation.Kbl(world, trace, length, TimeSpan.FromMinutes(30)),
    };
    foreach (var r in results)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {kind} | {r.Policy} | {r.NodeHours:0} | {r.NodeHours / results[0].NodeHours:0.00} | {r.ViolationMinutes:0} | {r.PeakNodes} | {r.MaxGroups} |"));
    }
}

// The active window: a fleet whose colonies are each active a tenth of the day, always on or hibernating when idle.
Console.WriteLine();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"# the window: {Window.Colonies} colonies, {Window.ColoniesPerGroup} per node group, each active {Window.ActiveHours} h a day at a phase of its own, Zipf load (rank r: {Window.TopOps}/r ops/s), {Window.BytesPerColony >> 30} GiB in two copies each; a wake waits for a node ({world.BootDelay.TotalMinutes} min to boot) and {Window.WakeTime.TotalMinutes} min to ingest"));
Console.WriteLine();
Console.WriteLine("| fleet | policy | node-hours | vs always on | SLO-violation minutes | peak nodes |");
Console.WriteLine("|---|---|---:|---:|---:|---:|");
var alwaysOn = Window.Run(world, length, windowed: false, seed);
foreach (var r in new[] { alwaysOn, Window.Run(world, length, windowed: true, seed), Window.Run(world, length, windowed: true, seed, TimeSpan.FromMinutes(5)) })
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| zipf, 10% active | {r.Policy} | {r.NodeHours:0} | {r.NodeHours / alwaysOn.NodeHours:0.00} | {r.ViolationMinutes:0} | {r.PeakNodes} |"));
}

return 0;
