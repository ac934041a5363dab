using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tree;

// Records: a leaf serves get, put, delete and scan from the silo's record store; any other KBL answers Moved.
public sealed partial class KblGrain
{
    public Task<ReadResult> Get(byte[] key)
    {
        if (Refuse(key) is { } refusal)
        {
            return Task.FromResult(new ReadResult(refusal.Status, null, 0, refusal.Moved, refusal.Message));
        }

        _meter.Read(key, time.GetUtcNow());
        metrics.Operation(_colony, "get");
        var record = store.Get(_colony, key);
        return Task.FromResult(record is null
            ? new ReadResult(KblStatus.NotFound, null, 0, null)
            : new ReadResult(KblStatus.Ok, record.Value, record.Version, null));
    }

    public Task<WriteResult> Put(byte[] key, byte[] value, Precondition condition) => Write(key, value, condition);

    public Task<WriteResult> Delete(byte[] key, Precondition condition) => Write(key, null, condition);

    public Task<ScanPage> Scan(byte[] from, bool exclusive, byte[]? to, PageBounds bounds, CancellationToken cancellationToken)
    {
        if (Refuse(from) is { } refusal)
        {
            return Task.FromResult(new ScanPage(refusal.Status, [], null, refusal.Moved, refusal.Message));
        }

        _meter.Touch(time.GetUtcNow());
        var end = State.Range.Hi is null || (to is not null && KeyOrder.Compare(to, State.Range.Hi) < 0) ? to : State.Range.Hi;
        var (records, truncated) = bounds.Take(store.Scan(_colony, from, exclusive, end), cancellationToken);
        metrics.ScanPage(_colony);
        return Task.FromResult(new ScanPage(KblStatus.Ok, records, State.Range.Hi, null, Truncated: truncated));
    }

    /// <summary>A put (<paramref name="value"/> set) or delete: checks the condition, takes a version, writes, and asks to divide when the shard outgrew its genome.</summary>
    private async Task<WriteResult> Write(byte[] key, byte[]? value, Precondition condition)
    {
        if (Refuse(key) is { } refusal)
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

        var version = ++_clock;
        store.Write(_colony, key, value, version, _id, _clock);
        _meter.Write(key, time.GetUtcNow());
        metrics.Operation(_colony, value is null ? "delete" : "put");
        _keys += (value is null ? 0 : 1) - (current is null ? 0 : 1);
        _bytes += (value is null ? 0 : key.Length + value.Length) - (current is null ? 0 : key.Length + current.Value.Length);
        if (OutgrewSize)
        {
            await DivideWhenOutgrown(byLoad: false);
        }

        return new WriteResult(KblStatus.Ok, version, null);
    }
}
