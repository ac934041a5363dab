using System.Diagnostics;
using System.Diagnostics.Metrics;
using Kbl.Placement;
using Kbl.Tree;

namespace Kbl.Telemetry;

/// <summary>
/// Kbl's own meter (<c>Kbl</c>) and activity source: operations per colony, splits, merges and moves as they
/// happen; records, bytes, tree depth, KBLs per node group and the locality share observed from this silo's
/// activations at each collection.
/// </summary>
public sealed class KblMetrics : IDisposable
{
    public const string MeterName = "Kbl";
    public const string ActivitySourceName = "Kbl";

    public static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    private readonly Meter _meter;
    private readonly Counter<long> _ops;
    private readonly Counter<long> _splits;
    private readonly Counter<long> _merges;
    private readonly Counter<long> _moves;
    private readonly Counter<long> _aggregatePages;
    private readonly Counter<long> _scanPages;
    private readonly Counter<long> _failovers;
    private readonly Counter<long> _rebuildBytes;
    private readonly Counter<double> _rebuildTime;
    private readonly Counter<long> _hibernations;
    private readonly Histogram<double> _wakeTime;
    private readonly UpDownCounter<long> _coldBytes;

    public KblMetrics(IMeterFactory meters, LocalKbls local, SiloIdentity silo)
    {
        _meter = meters.Create(MeterName);
        _ops = _meter.CreateCounter<long>("kbl.operations", "{operation}", "Record operations served by leaves, by colony and kind");
        _splits = _meter.CreateCounter<long>("kbl.splits", "{split}", "KBLs that divided, by colony and trigger");
        _merges = _meter.CreateCounter<long>("kbl.merges", "{merge}", "Interior KBLs that merged their children back, by colony");
        _moves = _meter.CreateCounter<long>("kbl.moves", "{move}", "KBLs that moved to another silo with their records");
        _aggregatePages = _meter.CreateCounter<long>("kbl.aggregate.pages", "{page}", "Pages of aggregates computed by leaves (one turn each), by colony");
        _scanPages = _meter.CreateCounter<long>("kbl.scan.pages", "{page}", "Pages of scans served by leaves (one grain call each), by colony");
        _failovers = _meter.CreateCounter<long>("kbl.failovers", "{failover}", "Leaves that took over on a silo holding an in-sync replica after their home silo went down, by colony");
        _rebuildBytes = _meter.CreateCounter<long>("kbl.rebuild", "By", "Bytes (keys + values) of snapshots installed on replicas (rebuilds), by colony");
        _rebuildTime = _meter.CreateCounter<double>("kbl.rebuild.time", "s", "Time the snapshots counted in kbl.rebuild took to stream and install, by colony");
        _hibernations = _meter.CreateCounter<long>("kbl.hibernations", "{hibernation}", "Leaves that sealed their shard into the cold tier and left every silo disk, by colony");
        _wakeTime = _meter.CreateHistogram<double>("kbl.wake", "s", "Time a hibernated leaf took to wake (read its snapshot from the cold tier and ingest it), by colony");
        _coldBytes = _meter.CreateUpDownCounter<long>("kbl.cold_tier", "By", "Bytes of records hibernated leaves keep in the cold tier: added by the silo a leaf hibernates on, taken off by the silo it wakes on (sum over silos), by colony");
        _meter.CreateObservableGauge("kbl.under_replicated_kbls", () => local.Snapshot().Where(k => k.MissingCopies > 0).GroupBy(k => k.Colony)
            .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("colony", g.Key))), "{kbl}", "Mirrored leaves on this silo with fewer copies in sync than their genome asks, by colony");
        _meter.CreateObservableGauge("kbl.records", () => ByColony(local, k => k.Keys), "{record}", "Records of the active leaves on this silo, by colony");
        _meter.CreateObservableGauge("kbl.bytes", () => ByColony(local, k => k.Bytes), "By", "Bytes (keys + values) of the active leaves on this silo, by colony");
        _meter.CreateObservableGauge("kbl.tree.depth", () => local.Snapshot().GroupBy(k => k.Colony)
            .Select(g => new Measurement<int>(g.Max(k => k.Height), new KeyValuePair<string, object?>("colony", g.Key))), "{level}", "Height of the tallest KBL subtree of each colony on this silo (the colony's height where its root runs)");
        _meter.CreateObservableGauge("kbl.kbls", () =>
        {
            var kbls = local.Snapshot();
            return kbls.GroupBy(k => (k.NodeGroup, k.Role))
                .Select(g => new Measurement<int>(g.Count(), new("node_group", g.Key.NodeGroup), new("role", g.Key.Role.ToString().ToLowerInvariant()), new("state", "active")))
                .Concat(kbls.Where(k => k.HibernatedLeaves > 0).GroupBy(k => k.NodeGroup)
                    .Select(g => new Measurement<int>(g.Sum(k => k.HibernatedLeaves), new("node_group", g.Key), new("role", "leaf"), new("state", "hibernated"))));
        },
            "{kbl}", "KBL activations on this silo, by node group and role (state active); and the hibernated leaves of the colonies whose root runs here (state hibernated)");
        _meter.CreateObservableGauge("kbl.locality.share", () =>
        {
            var leaves = local.Snapshot().Where(k => k.Role == KblRole.Leaf).ToList();
            return leaves.Count == 0 ? 1.0 : leaves.Count(l => l.NodeGroup == silo.NodeGroup) / (double)leaves.Count;
        }, "1", "Share of this silo's leaf activations that belong to its node group");
    }

    public void Operation(string colony, string kind, int count = 1) => _ops.Add(count, new("colony", colony), new("op", kind));

    public void Split(string colony, bool byLoad) => _splits.Add(1, new("colony", colony), new("trigger", byLoad ? "load" : "size"));

    public void Merge(string colony) => _merges.Add(1, new KeyValuePair<string, object?>("colony", colony));

    public void Move(string colony) => _moves.Add(1, new KeyValuePair<string, object?>("colony", colony));

    public void AggregatePage(string colony) => _aggregatePages.Add(1, new KeyValuePair<string, object?>("colony", colony));

    public void ScanPage(string colony) => _scanPages.Add(1, new KeyValuePair<string, object?>("colony", colony));

    public void Failover(string colony) => _failovers.Add(1, new KeyValuePair<string, object?>("colony", colony));

    public void Rebuilt(string colony, long bytes, TimeSpan took)
    {
        _rebuildBytes.Add(bytes, new KeyValuePair<string, object?>("colony", colony));
        _rebuildTime.Add(took.TotalSeconds, new KeyValuePair<string, object?>("colony", colony));
    }

    public void Hibernated(string colony, long bytes)
    {
        _hibernations.Add(1, new KeyValuePair<string, object?>("colony", colony));
        _coldBytes.Add(bytes, new KeyValuePair<string, object?>("colony", colony));
    }

    public void Woke(string colony, long bytes, TimeSpan took)
    {
        _wakeTime.Record(took.TotalSeconds, new KeyValuePair<string, object?>("colony", colony));
        _coldBytes.Add(-bytes, new KeyValuePair<string, object?>("colony", colony));
    }

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<Measurement<long>> ByColony(LocalKbls local, Func<ILocalKbl, long> value) =>
        local.Snapshot().Where(k => k.Role == KblRole.Leaf).GroupBy(k => k.Colony)
            .Select(g => new Measurement<long>(g.Sum(value), new KeyValuePair<string, object?>("colony", g.Key)));
}
