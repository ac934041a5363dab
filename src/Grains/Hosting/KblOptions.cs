namespace Kbl.Hosting;

/// <summary>The silo's own settings, section <c>Kbl</c>.</summary>
public sealed class KblOptions
{
    public const string Section = "Kbl";

    /// <summary>Where this silo keeps its records (<c>{DataPath}/records</c>, a RocksDB database).</summary>
    public string DataPath { get; set; } = "data";

    /// <summary>
    /// The silo's stable identity, kept across restarts (the pod name in Kubernetes). KBLs record it as their home.
    /// Empty: <c>silo-{SiloPort}</c>.
    /// </summary>
    public string SiloName { get; set; } = "";

    public string NodeGroup { get; set; } = "default";

    public string Zone { get; set; } = "local";

    /// <summary>How often KBLs measure themselves and report to their parents.</summary>
    public TimeSpan FeedbackPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// fsync every record write. Off by default: writes then survive a process crash (RocksDB's write-ahead log is
    /// in the page cache) but not a machine crash.
    /// </summary>
    public bool SyncWrites { get; set; }

    /// <summary>
    /// The most records a leaf aggregates in one turn (and at most 4 MiB of them): an aggregate over a large leaf
    /// goes in pages, and the leaf's writes go on between them.
    /// </summary>
    public int AggregatePageRecords { get; set; } = 4096;

    /// <summary>
    /// How fast this silo streams snapshots to copies it rebuilds (all of them together), in bytes of records per
    /// second: rebuilds after a failure go on in the background and leave the rest to requests.
    /// </summary>
    public long RebuildBytesPerSecond { get; set; } = 32L << 20;

    /// <summary>
    /// How many snapshots this silo streams at once; more rebuilds wait for a turn, first come first served, so after
    /// a large loss the leaves get their copies back one after another instead of all together at the end.
    /// </summary>
    public int RebuildStreams { get; set; } = 2;

    /// <summary>
    /// How long after it starts a silo waits before it asks the KBL of each replica copy on its disk whether the copy
    /// is still one of its shard's (stray copies are dropped): long enough for a cluster starting at once to bring
    /// the KBLs' home silos back first, since asking activates each KBL.
    /// </summary>
    public TimeSpan StrayCopySweepDelay { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How long after one sweep of stray copies the next begins (zero: only when the silo starts): a copy whose drop
    /// was lost while its silo stayed up goes at the next sweep. A sweep reads each replica copy's KBL state and wakes
    /// only the KBLs whose state does not name the copy in sync.
    /// </summary>
    public TimeSpan StrayCopySweepPeriod { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The most colonies the cluster holds (those being deleted count until they are gone); creating one more is
    /// refused (HTTP 409). Read by the colony registry, on whichever silo it runs: set it alike on every silo.
    /// </summary>
    public int MaxColonies { get; set; } = 1000;

    /// <summary>The largest <see cref="MaxColonies"/> accepted: the registry rewrites the whole list on every create.</summary>
    public const int MaxColoniesLimit = 100_000;
}
