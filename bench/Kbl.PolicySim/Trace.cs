namespace Kbl.PolicySim;

/// <summary>
/// A synthetic colony population and its offered load over time: node groups of colonies, each colony of four
/// top-level subtrees with many leaf KBLs. Deterministic for a seed.
/// </summary>
public sealed class Trace
{
    public const int Groups = 3;
    public const int ColoniesPerGroup = 8;
    public const int SubtreesPerColony = 4;
    public const int LeavesPerSubtree = 40;

    private readonly string _kind;
    private readonly double _baseOps;
    private readonly List<(int Subtree, double Start, double End, double Factor)> _bursts = [];
    private readonly List<(int Subtree, double Start, double End)> _hot = [];
    private readonly double _hotOps;

    public Trace(string kind, int seed, TimeSpan length, double baseOpsPerSubtree, double hotOps)
    {
        _kind = kind;
        _baseOps = baseOpsPerSubtree;
        _hotOps = hotOps;
        var random = new Random(seed);
        var hours = length.TotalHours;
        if (kind == "bursts")
        {
            // About one burst per colony every six hours: the whole colony at 3–8× for 10–40 minutes, starting at once.
            for (var colony = 0; colony < Groups * ColoniesPerGroup; colony++)
            {
                for (var t = random.NextDouble() * 6; t < hours; t += 1 + (random.NextDouble() * 10))
                {
                    var (end, factor) = (t + ((10 + (random.NextDouble() * 30)) / 60), 3 + (random.NextDouble() * 5));
                    for (var subtree = colony * SubtreesPerColony; subtree < (colony + 1) * SubtreesPerColony; subtree++)
                    {
                        _bursts.Add((subtree, t, end, factor));
                    }
                }
            }
        }

        if (kind == "moving-hot-range")
        {
            // A hot key range: one subtree carries a group's worth of extra load, and moves every three hours.
            for (var t = 1.0; t < hours; t += 3)
            {
                _hot.Add((random.Next(Groups * ColoniesPerGroup * SubtreesPerColony), t, t + 3));
            }
        }
    }

    public string Kind => _kind;

    public static int Subtrees => Groups * ColoniesPerGroup * SubtreesPerColony;

    public static int GroupOf(int subtree) => subtree / (ColoniesPerGroup * SubtreesPerColony);

    public static int ColonyOf(int subtree) => subtree / SubtreesPerColony;

    /// <summary>Offered operations per second on a subtree at <paramref name="hours"/> into the trace.</summary>
    public double Ops(int subtree, double hours)
    {
        var ops = _baseOps;
        if (_kind == "diurnal")
        {
            // Peak at 14:00, trough at 02:00: the trough is a fifth of the peak; each group a little shifted.
            var phase = 2 * Math.PI * (hours - 8 - GroupOf(subtree)) / 24;
            ops *= 0.6 + (0.4 * Math.Sin(phase));
            ops *= 1 + (0.05 * Math.Sin(subtree * 7.3 + (hours * 3.1)));
        }

        foreach (var burst in _bursts)
        {
            if (burst.Subtree == subtree && hours >= burst.Start && hours < burst.End)
            {
                ops *= burst.Factor;
            }
        }

        foreach (var hot in _hot)
        {
            if (hot.Subtree == subtree && hours >= hot.Start && hours < hot.End)
            {
                ops += _hotOps;
            }
        }

        return ops;
    }
}
