using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;

namespace Kbl.Tree;

// Records: a leaf serves get, put, delete and scan from the silo's record store; any other KBL answers Moved.
public sealed partial class KblGrain
{
    public async Task<ReadResult> Get(byte[] key)
    {
        if ((Refuse(key) ?? await ReadFence()) is { } refusal)
        {
            return new ReadResult(refusal.Status, null, 0, refusal.Moved, refusal.Message);
        }

        _meter.Read(key, time.GetUtcNow());
        metrics.Operation(_colony, "get");
        var record = store.Get(_colony, key);
        return record is null
            ? new ReadResult(KblStatus.NotFound, null, 0, null)
            : new ReadResult(KblStatus.Ok, record.Value, record.Version, null);
    }

    public Task<WriteResult> Put(byte[] key, byte[] value, Precondition condition) => Write(key, value, condition);

    public Task<WriteResult> Delete(byte[] key, Precondition condition) => Write(key, null, condition);

    public async Task<ScanPage> Scan(byte[] from, bool exclusive, byte[]? to, PageBounds bounds, CancellationToken cancellationToken)
    {
        if ((Refuse(from) ?? await ReadFence()) is { } refusal)
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
    /// A put (<paramref name="value"/> set) or delete: checks the condition, takes a version, writes (on every
    /// in-sync copy when mirrored), and asks to divide when the shard outgrew its genome.
    /// </summary>
    private async Task<WriteResult> Write(byte[] key, byte[]? value, Precondition condition)
    {
        // A mirrored leaf answers a failed condition or a delete of nothing from its copy: only while it is surely the primary.
        if ((Refuse(key) ?? await ReadFence()) is { } refusal)
        {
            return new WriteResult(refusal.Status, 0, refusal.Moved, refusal.Message);
        }

        var current = store.Get(_colony, key);
        if (!condition.Holds(current?.Version))
        {
            return new WriteResult(KblStatus.PreconditionFailed, current?.Version ?? 0, null);
        }

        if (value is null && current is null)
        {
            return new WriteResult(KblStatus.NotFound, 0, null);
        }

        if (!Redundancy.Mirrored && State.Replicas is { Primary.Length: > 0 })
        {
            // One copy from now on (the genome changed): the replicas stop following, so none may count as in sync.
            _primary = null;
            await SaveReplicas(Forgotten()!);
        }

        var (outcome, version, refused) = Redundancy.Mirrored ? await WriteCopies(key, value) : (WriteOutcome.Acknowledged, WriteHere(key, value), null);
        if (outcome == WriteOutcome.Refused)
        {
            return new WriteResult(refused!.Status, 0, null, refused.Message);
        }

        _clock = version;
        _meter.Write(key, time.GetUtcNow());
        metrics.Operation(_colony, value is null ? "delete" : "put");
        _keys += (value is null ? 0 : 1) - (current is null ? 0 : 1);
        _bytes += (value is null ? 0 : key.Length + value.Length) - (current is null ? 0 : key.Length + current.Value.Length);
        if (outcome == WriteOutcome.Unknown)
        {
            return new WriteResult(KblStatus.OutcomeUnknown, 0, null, refused?.Message ??
                $"KBL {_id} lost the copies it replicates to before the write was acknowledged: it may or may not have happened; read the key to find out");
        }

        if (OutgrewSize)
        {
            await DivideWhenOutgrown(byLoad: false);
        }

        return new WriteResult(KblStatus.Ok, version, null);
    }

    /// <summary>Writes one record to this silo's store alone (a colony with one copy): its version.</summary>
    private long WriteHere(byte[] key, byte[]? value)
    {
        var version = _clock + 1;
        store.Write(_colony, key, value, version, _id, version);
        return version;
    }
}
