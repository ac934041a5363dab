using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;

namespace Kbl.Tree;

// Records: a leaf serves get, put, delete and scan from the silo's record store; any other KBL answers Moved.
public sealed partial class KblGrain
{
    public async Task<ReadResult> Get(byte[] key)
    {
        if ((Refuse(key) ?? await Ready()) is { } refusal)
        {
            return Refused(refusal);
        }

        metrics.Operation(_colony, "get");
        return ReadHere(key, time.GetUtcNow());
    }

    public async Task<IReadOnlyList<ReadResult>> GetMany(IReadOnlyList<byte[]> keys)
    {
        var refusals = keys.Select(Refuse).ToList();
        if (refusals.Any(r => r is null) && await Ready() is { } fence)
        {
            refusals = [.. refusals.Select(r => r ?? fence)];
        }

        var now = time.GetUtcNow();
        var results = new ReadResult[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            results[i] = refusals[i] is { } refusal ? Refused(refusal) : ReadHere(keys[i], now);
        }

        metrics.Operation(_colony, "get", refusals.Count(r => r is null));
        return results;
    }

    /// <summary>A read of <paramref name="key"/> from this silo's store (the leaf may serve it), counted in its feedback.</summary>
    private ReadResult ReadHere(byte[] key, DateTimeOffset now)
    {
        _meter.Read(key, now);
        return store.Get(_colony, key) is { } record
            ? new ReadResult(KblStatus.Ok, record.Value, record.Version, null)
            : new ReadResult(KblStatus.NotFound, null, 0, null);
    }

    private static ReadResult Refused(Refusal refusal) => new(refusal.Status, null, 0, refusal.Moved, refusal.Message);

    public async Task<WriteResult> Put(byte[] key, byte[] value, Precondition condition) => (await WriteMany([new RecordWrite(key, value, condition)]))[0];

    public async Task<WriteResult> Delete(byte[] key, Precondition condition) => (await WriteMany([new RecordWrite(key, null, condition)]))[0];

    public async Task<ScanPage> Scan(byte[] from, bool exclusive, byte[]? to, PageBounds bounds, CancellationToken cancellationToken)
    {
        if ((Refuse(from) ?? await Ready()) is { } refusal)
        {
            return new ScanPage(refusal.Status, [], null, refusal.Moved, refusal.Message);
        }

        _meter.Touch(time.GetUtcNow());
        var end = State.Range.Hi is null || (to is not null && KeyOrder.Compare(to, State.Range.Hi) < 0) ? to : State.Range.Hi;
        var (records, truncated) = bounds.Take(store.Scan(_colony, from, exclusive, end), cancellationToken);
        metrics.ScanPage(_colony);
        return new ScanPage(KblStatus.Ok, records, State.Range.Hi, null, Truncated: truncated);
    }

    /// <summary>
    /// Puts and deletes: each checks its condition (against the writes before it in the batch too) and takes the
    /// next version; the accepted ones are written together (on every in-sync copy when mirrored) and acknowledged
    /// together; then the leaf asks to divide when the shard outgrew its genome.
    /// </summary>
    public async Task<IReadOnlyList<WriteResult>> WriteMany(IReadOnlyList<RecordWrite> writes)
    {
        var results = new WriteResult[writes.Count];
        var refusals = writes.Select(w => Refuse(w.Key)).ToList();

        // A hibernated leaf wakes first; a mirrored leaf answers a failed condition or a delete of nothing from its
        // copy: only while it is surely the primary. (A leaf switched to one copy passes the fence only once it has
        // forgotten its mirror: then it writes alone.)
        if (refusals.Any(r => r is null) && await Ready() is { } fence)
        {
            refusals = [.. refusals.Select(r => r ?? fence)];
        }

        var accepted = new List<(int Index, RecordWrite Write, StoredRecord? Current)>();
        var written = new Dictionary<byte[], StoredRecord?>(KeyOrder.Equality);
        var judged = new List<int>(); // answered (failed condition, nothing to delete) from an earlier write of the batch
        for (var i = 0; i < writes.Count; i++)
        {
            var write = writes[i];
            if (refusals[i] is { } refusal)
            {
                results[i] = new WriteResult(refusal.Status, 0, refusal.Moved, refusal.Message);
                continue;
            }

            var fromBatch = written.TryGetValue(write.Key, out var earlier);
            var current = fromBatch ? earlier : store.Get(_colony, write.Key);
            var answer = !write.Condition.Holds(current?.Version) ? new WriteResult(KblStatus.PreconditionFailed, current?.Version ?? 0, null)
                : write.Value is null && current is null ? new WriteResult(KblStatus.NotFound, 0, null)
                : null;
            if (answer is not null)
            {
                results[i] = answer;
                if (fromBatch)
                {
                    judged.Add(i);
                }

                continue;
            }

            var version = _clock + 1 + accepted.Count;
            written[write.Key] = write.Value is null ? null : new StoredRecord(write.Key, write.Value, version);
            accepted.Add((i, write, current));
        }

        if (accepted.Count > 0 && await Apply(accepted, results) is { } unacknowledged)
        {
            // An answer given from a write that did not take effect (or may not have) answers for a state that may
            // never have been: it shares that write's fate.
            foreach (var i in judged)
            {
                results[i] = unacknowledged;
            }
        }

        return results;
    }

    /// <summary>
    /// Writes the accepted records (versions from the clock on) and fills in their results; returns the result they
    /// got when they were not acknowledged (refused, or outcome unknown), else null.
    /// </summary>
    private async Task<WriteResult?> Apply(List<(int Index, RecordWrite Write, StoredRecord? Current)> accepted, WriteResult[] results)
    {
        var records = accepted.Select(a => (a.Write.Key, a.Write.Value)).ToList();
        var (outcome, first, refused) = Redundancy.Mirrored ? await WriteCopies(records) : (WriteOutcome.Acknowledged, WriteHere(records), null);
        if (outcome == WriteOutcome.Refused)
        {
            var refusal = new WriteResult(refused!.Status, 0, null, refused.Message);
            foreach (var (index, _, _) in accepted)
            {
                results[index] = refusal;
            }

            return refusal;
        }

        _clock = first + accepted.Count - 1;
        var now = time.GetUtcNow();
        var unknown = outcome == WriteOutcome.Unknown
            ? new WriteResult(KblStatus.OutcomeUnknown, 0, null, refused?.Message ??
                $"KBL {_id} lost the copies it replicates to before the write was acknowledged: it may or may not have happened; read the key to find out")
            : null;
        for (var i = 0; i < accepted.Count; i++)
        {
            var (index, write, current) = accepted[i];
            _meter.Write(write.Key, now);
            metrics.Operation(_colony, write.Value is null ? "delete" : "put");
            _keys += (write.Value is null ? 0 : 1) - (current is null ? 0 : 1);
            _bytes += (write.Value is null ? 0 : write.Key.Length + write.Value.Length) - (current is null ? 0 : write.Key.Length + current.Value.Length);
            results[index] = unknown ?? new WriteResult(KblStatus.Ok, first + i, null);
        }

        if (unknown is null && OutgrewSize)
        {
            try
            {
                await DivideWhenOutgrown(byLoad: false);
            }
            catch (Exception e)
            {
                // The writes are durable (and acknowledged by every copy): a division that could not start now does
                // not make them fail; the tick asks again.
                KblLog.TransitionPending(logger, e, _id, State.Transition?.Kind ?? TransitionKind.Split);
                if (e is Orleans.Storage.InconsistentStateException)
                {
                    DeactivateOnIdle();
                }
            }
        }

        return unknown;
    }

    /// <summary>Writes records to this silo's store alone (a colony with one copy): the first one's version.</summary>
    private long WriteHere(IReadOnlyList<(byte[] Key, byte[]? Value)> records)
    {
        var first = _clock + 1;
        store.Write(_colony, [.. records.Select((r, i) => (r.Key, r.Value, first + (long)i))], _id, first + records.Count - 1);
        return first;
    }
}
