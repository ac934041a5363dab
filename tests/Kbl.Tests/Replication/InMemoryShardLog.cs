using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// A shard's copy on one simulated disk: records, the log and the seal, all "durable" (they survive a crash of the
/// node, not the loss of its disk). Keys are strings here; the protocol sees bytes.
/// </summary>
public sealed class InMemoryShardLog(string disk, int retained = 10_000) : IShardLog
{
    private readonly SortedDictionary<string, (byte[] Value, long Version)> _records = new(StringComparer.Ordinal);
    private readonly List<LogEntry> _log = [];
    private long _baseSeq;
    private long _baseEpoch;

    public string Disk { get; } = disk;

    public long AppliedSeq { get; private set; }

    public long LastEpoch { get; private set; }

    public long SealedEpoch { get; private set; }

    public CopyPosition Position => new(AppliedSeq, LastEpoch, SealedEpoch);

    /// <summary>The record of a key, as this copy holds it.</summary>
    public (byte[] Value, long Version)? Get(string key) => _records.TryGetValue(key, out var record) ? record : null;

    public IReadOnlyDictionary<string, (byte[] Value, long Version)> Records => _records;

    public void Seal(long epoch) => SealedEpoch = Math.Max(SealedEpoch, epoch);

    /// <summary>A fault: runs before the next write reaches this disk; true when the process died there (nothing is written, and nothing after it runs).</summary>
    public Func<bool>? BeforeNextWrite { get; set; }

    public long? EpochAt(long seq)
    {
        if (Position.KnownEpochAt(seq) is { } known)
        {
            return known;
        }

        if (seq == _baseSeq)
        {
            return _baseEpoch; // where the log starts since a snapshot was installed
        }

        var index = _log.BinarySearch(new LogEntry(seq, 0, [], null), Comparer<LogEntry>.Create((a, b) => a.Seq.CompareTo(b.Seq)));
        return index >= 0 ? _log[index].Epoch : null;
    }

    public IReadOnlyList<LogEntry> After(long seq, int max) => [.. _log.Where(e => e.Seq > seq).Take(max)];

    public bool Apply(long epoch, IReadOnlyList<LogEntry> entries)
    {
        if (BeforeNextWrite is { } fault)
        {
            BeforeNextWrite = null;
            if (fault())
            {
                return false; // the process is gone: no answer of its leaves it (the simulation drops them)
            }
        }

        if (epoch != SealedEpoch)
        {
            return false;
        }

        foreach (var entry in entries)
        {
            if (entry.Seq != AppliedSeq + 1)
            {
                throw new InvalidOperationException($"entry {entry.Seq} applied after {AppliedSeq}");
            }

            var key = System.Text.Encoding.UTF8.GetString(entry.Key);
            if (entry.Value is null)
            {
                _records.Remove(key);
            }
            else
            {
                _records[key] = (entry.Value, entry.Seq);
            }

            _log.Add(entry);
            (AppliedSeq, LastEpoch) = (entry.Seq, entry.Epoch);
        }

        if (_log.Count > retained)
        {
            _log.RemoveRange(0, _log.Count - retained);
        }

        return true;
    }

    public IShardSnapshot Snapshot() => new Frozen(
        AppliedSeq, LastEpoch, [.. _records.Select(r => (System.Text.Encoding.UTF8.GetBytes(r.Key), r.Value.Value, r.Value.Version))]);

    public IShardInstall BeginInstall() => new Staged(this);

    /// <summary>The records as they were when the snapshot was taken (copied: later writes do not show).</summary>
    private sealed class Frozen(long appliedSeq, long lastEpoch, List<(byte[] Key, byte[] Value, long Version)> records) : IShardSnapshot
    {
        public long AppliedSeq => appliedSeq;

        public long LastEpoch => lastEpoch;

        public IEnumerable<(byte[] Key, byte[] Value, long Version)> Records() => records;

        public void Dispose()
        {
        }
    }

    private sealed class Staged(InMemoryShardLog log) : IShardInstall
    {
        private readonly List<(byte[] Key, byte[] Value, long Version)> _records = [];

        public void Add(IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records) => _records.AddRange(records);

        public bool Finish(long epoch, long appliedSeq, long lastEpoch)
        {
            if (epoch != log.SealedEpoch || (log.LastEpoch == epoch && appliedSeq < log.AppliedSeq))
            {
                return false; // sealed for another epoch, or a replay: this epoch's primary had written past it here
            }

            log._records.Clear();
            foreach (var (key, value, version) in _records)
            {
                log._records[System.Text.Encoding.UTF8.GetString(key)] = (value, version);
            }

            log._log.Clear();
            (log.AppliedSeq, log.LastEpoch, log._baseSeq, log._baseEpoch) = (appliedSeq, lastEpoch, appliedSeq, lastEpoch);
            return true;
        }

        public void Dispose()
        {
        }
    }
}
