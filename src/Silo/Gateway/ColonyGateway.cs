using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Silo.Routing;
using Kbl.Tree;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Gateway;

/// <summary>
/// What the HTTP and gRPC surfaces share: input checks (every refusal is an <see cref="ApiException"/> with a
/// message, and changes nothing), each colony's quota (<see cref="ColonyQuotas"/>), routing through the
/// <see cref="ColonyRouter"/>, and KBL answers turned into API outcomes. Every call that reads a range takes the
/// caller's cancellation (an abandoned HTTP request, a cancelled gRPC call) down to the grains.
/// </summary>
public sealed class ColonyGateway(ColonyRouter router, IGrainFactory grains, IOptions<KblGatewayOptions> options, ColonyQuotas quotas)
{
    public const int MaxKeyBytes = 1024;
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public KblGatewayOptions Options => options.Value;

    public async Task<(Genome Genome, bool Created)> PutColony(string colony, ReadOnlyMemory<byte> genomeJson)
    {
        Admit(colony);
        var current = await router.Root(colony).GetGenome();
        var json = genomeJson.IsEmpty ? "{}"u8.ToArray() : genomeJson.ToArray();
        if (!GenomeJson.TryParse(json, current ?? Genome.NewColony, out var genome, out var error))
        {
            throw new ApiException(ApiError.BadRequest, error);
        }

        try
        {
            return (await router.Root(colony).Configure(genome), current is null);
        }
        catch (ColonyConflictException e)
        {
            throw new ApiException(ApiError.Conflict, e.Message); // at the cap, or still being deleted
        }
    }

    /// <summary>
    /// Deletes a colony: <see cref="ColonyDeletionStatus.Deleted"/> when it is gone, <see cref="ColonyDeletionStatus.Deleting"/>
    /// when the delete is recorded (the colony refuses every request) and finishes in the background.
    /// </summary>
    public async Task<ColonyDeletion> DeleteColony(string colony)
    {
        CheckColony(colony);
        var deletion = await router.Root(colony).DeleteColony();
        router.Forget(colony);
        return deletion.Status == ColonyDeletionStatus.NoColony ? throw NoColony(colony) : deletion;
    }

    public async Task<Genome> GetColony(string colony)
    {
        Admit(colony);
        return await router.Root(colony).GetGenome() ?? throw NoColony(colony);
    }

    public Task<IReadOnlyList<string>> ListColonies() => grains.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key).List();

    /// <summary>The colonies whose delete has not finished (they answer 404 meanwhile).</summary>
    public Task<IReadOnlyList<string>> ListDeletingColonies() => grains.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key).ListDeleting();

    public async Task<StoredRecord> Get(string colony, byte[] key)
    {
        Admit(colony);
        var result = Check(await router.Send(colony, key, g => g.Get(key)));
        return result.Status == KblStatus.NotFound ? throw NoRecord(colony, key) : new StoredRecord(key, result.Value!, result.Version);
    }

    public async Task<long> Put(string colony, byte[] key, byte[] value, Precondition condition)
    {
        CheckColony(colony);
        CheckValue(value.Length);
        quotas.Take(colony);
        return Written(await InDoubt(router.Write(colony, new RecordWrite(key, value, condition), Options.GroupCommit)), colony, key);
    }

    public async Task<long> Delete(string colony, byte[] key, Precondition condition)
    {
        Admit(colony);
        return Written(await InDoubt(router.Write(colony, new RecordWrite(key, null, condition), Options.GroupCommit)), colony, key);
    }

    /// <summary>
    /// Reads many keys of one colony (the batch API): one call per leaf they fall in. One item per key, in order:
    /// its value and version, or why it has none (404, or 503 when its leaf could not answer).
    /// </summary>
    public async Task<BatchItem[]> GetMany(string colony, IReadOnlyList<byte[]> keys)
    {
        CheckColony(colony);
        CheckBatch(keys.Count, keys.Sum(k => (long)k.Length));
        quotas.Take(colony, keys.Count);
        var outcomes = await router.GetMany(colony, keys);
        return [.. outcomes.Select((outcome, i) => outcome.Reply switch
        {
            null => BatchItem.Failed(keys[i], new ApiException(ApiError.Unavailable, Unavailable(outcome.Failure!) ?? $"the read failed: {outcome.Failure!.Message}")),
            { Status: KblStatus.NoColony } => throw NoColony(colony),
            { Status: KblStatus.Ok } read => new BatchItem(keys[i], null, null, read.Version, read.Value),
            { Status: KblStatus.NotFound } => BatchItem.Failed(keys[i], NoRecord(colony, keys[i])),
            var read => BatchItem.Failed(keys[i], new ApiException(ApiError.Unavailable, read.Message ?? "the KBL is unavailable")),
        })];
    }

    /// <summary>
    /// Writes many records of one colony in order (the batch API): one call per leaf they fall in, each leaf's share
    /// in one store write and one replication round. One item per write, in order: its new version, or why it was
    /// not applied — or 504 when its leaf's call was lost in transit (it may or may not have happened). Nothing is
    /// written when the batch itself is bad (a value too large, too many records or bytes).
    /// </summary>
    public async Task<BatchItem[]> WriteMany(string colony, IReadOnlyList<RecordWrite> writes)
    {
        CheckColony(colony);
        CheckBatch(writes.Count, writes.Sum(w => (long)w.Key.Length + (w.Value?.Length ?? 0)));
        if (writes.FirstOrDefault(w => w.Value?.Length > Options.MaxValueBytes) is { } large)
        {
            throw new ApiException(ApiError.TooLarge, $"the value of '{KeyOrder.Display(large.Key)}' is {large.Value!.Length} bytes; values are at most {Options.MaxValueBytes} bytes; nothing was written");
        }

        quotas.Take(colony, writes.Count);
        var outcomes = await router.WriteMany(colony, writes);
        return [.. outcomes.Select((outcome, i) => outcome.Reply switch
        {
            null => BatchItem.Failed(writes[i].Key, Lost(outcome.Failure!)),
            { Status: KblStatus.NoColony } => throw NoColony(colony),
            var written => Refused(written, colony, writes[i].Key) is { } refusal
                ? BatchItem.Failed(writes[i].Key, refusal) with { Version = written.Status == KblStatus.PreconditionFailed ? written.Version : 0 }
                : new BatchItem(writes[i].Key, null, null, written.Version, null),
        })];
    }

    /// <summary>A batch holds 1 to <c>MaxBatchRecords</c> records and at most <c>MaxBatchBytes</c> of keys and values.</summary>
    private void CheckBatch(int records, long bytes)
    {
        if (records == 0)
        {
            throw new ApiException(ApiError.BadRequest, "the batch is empty; send 1 to " + Options.MaxBatchRecords + " records");
        }

        if (records > Options.MaxBatchRecords)
        {
            throw new ApiException(ApiError.TooLarge, $"the batch has {records} records; a batch holds at most {Options.MaxBatchRecords} (Kbl:Gateway:MaxBatchRecords); nothing was done");
        }

        if (bytes > Options.MaxBatchBytes)
        {
            throw new ApiException(ApiError.TooLarge, $"the batch holds {bytes} bytes of keys and values; at most {Options.MaxBatchBytes} (Kbl:Gateway:MaxBatchBytes); nothing was done");
        }
    }

    /// <summary>
    /// A write whose call failed in transit (a timeout, a silo lost mid-call) may have been applied: it is reported
    /// as an outcome unknown (504), never as a plain refusal a client would take for "not written".
    /// </summary>
    private static async Task<WriteResult> InDoubt(Task<WriteResult> write)
    {
        try
        {
            return await write;
        }
        catch (Exception e) when (e is TimeoutException or OrleansException && e.InnerException is not Grains.NodeGroupUnavailableException)
        {
            throw Lost(e);
        }
    }

    /// <summary>
    /// What a write whose call failed answers: 503 when it surely was not applied (its node group has no silo, or no
    /// KBL took its key: every hop answered that it had moved), else 504 (it may have happened).
    /// </summary>
    private static ApiException Lost(Exception e) => e switch
    {
        Grains.NodeGroupUnavailableException or { InnerException: Grains.NodeGroupUnavailableException } or KblRoutingException =>
            new ApiException(ApiError.Unavailable, Unavailable(e) ?? e.Message),
        _ => new ApiException(ApiError.OutcomeUnknown, $"the write may or may not have happened (the cluster lost the call: {e.Message}); read the record to find out, or write it again"),
    };

    /// <summary>A page of an HTTP scan: at most <paramref name="limit"/> records and <c>MaxScanPageBytes</c> bytes.</summary>
    public async Task<RecordPage> ScanPage(string colony, byte[] from, bool exclusive, byte[]? to, int limit, CancellationToken cancellationToken)
    {
        Admit(colony);
        try
        {
            return await router.Page(colony, from, exclusive, to, new PageBounds(limit, Options.MaxScanPageBytes), cancellationToken);
        }
        catch (KblStatusException e)
        {
            throw Refusal(colony, e);
        }
    }

    /// <summary>The records of a gRPC scan, streamed, at most <paramref name="limit"/>; read in leaf pages of <c>MaxScanPage</c> records or <c>MaxScanPageBytes</c>.</summary>
    public IAsyncEnumerable<StoredRecord> Scan(string colony, byte[] from, bool exclusive, byte[]? to, long limit, CancellationToken cancellationToken)
    {
        Admit(colony);
        return ScanChecked(colony, from, exclusive, to, limit, cancellationToken);
    }

    public async Task<AggregatePartial> Aggregate(string colony, AggregateQuery query, CancellationToken cancellationToken = default)
    {
        CheckColony(colony);
        if (query.Op != AggregateOp.Count && string.IsNullOrEmpty(query.Field))
        {
            throw new ApiException(ApiError.BadRequest, $"aggregate '{query.Op.ToString().ToLowerInvariant()}' needs a 'field'");
        }

        quotas.Take(colony);
        var result = await router.Aggregate(colony, query, cancellationToken);
        return result.Status switch
        {
            KblStatus.Ok => result,
            KblStatus.NoColony => throw NoColony(colony),
            _ => throw new ApiException(ApiError.Unavailable, result.Message ?? "part of the colony is changing shape; retry"),
        };
    }

    /// <summary>The colony's tree: <paramref name="levels"/> below the root (deeper subtrees collapsed), and the hot path when asked.</summary>
    public async Task<KblView> Tree(string colony, int levels = int.MaxValue, bool hotPath = false)
    {
        Admit(colony);
        if (levels < 0)
        {
            throw new ApiException(ApiError.BadRequest, $"depth {levels} must be 0 or more");
        }

        var view = await router.Root(colony).GetTree(levels, hotPath);
        return view.Role == KblRole.None ? throw NoColony(colony) : view;
    }

    /// <summary>Decodes and checks a key given as text: 1 to 1024 bytes of UTF-8.</summary>
    public static byte[] Key(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw new ApiException(ApiError.BadRequest, "the key is empty; keys are 1 to 1024 bytes of UTF-8");
        }

        byte[] bytes;
        try
        {
            bytes = StrictUtf8.GetBytes(key);
        }
        catch (EncoderFallbackException)
        {
            throw new ApiException(ApiError.BadRequest, "the key is not valid UTF-8");
        }

        return bytes.Length > MaxKeyBytes
            ? throw new ApiException(ApiError.BadRequest, $"the key is {bytes.Length} bytes; keys are at most {MaxKeyBytes} bytes of UTF-8")
            : bytes;
    }

    /// <summary>A key of a batch, checked as <see cref="Key(string?)"/> does, its refusal naming where it is (<c>writes[3]</c>).</summary>
    public static byte[] Key(string? key, string at)
    {
        try
        {
            return Key(key);
        }
        catch (ApiException e)
        {
            throw new ApiException(e.Kind, $"{at}: {e.Message}");
        }
    }

    /// <summary>Checks a key given as raw bytes (percent-decoded from a URL).</summary>
    public static byte[] Key(byte[] bytes)
    {
        try
        {
            return Key(StrictUtf8.GetString(bytes));
        }
        catch (DecoderFallbackException)
        {
            throw new ApiException(ApiError.BadRequest, "the key is not valid UTF-8");
        }
    }

    public void CheckValue(long length)
    {
        if (length > Options.MaxValueBytes)
        {
            throw new ApiException(ApiError.TooLarge, $"the value is {length} bytes; values are at most {Options.MaxValueBytes} bytes");
        }
    }

    public static void CheckColony(string? colony)
    {
        if (!ColonyNames.IsValid(colony))
        {
            throw new ApiException(ApiError.BadRequest, $"colony name '{colony}' must be 1 to 63 characters a-z, 0-9 and '-'");
        }
    }

    /// <summary>Checks the colony's name, then takes a request from its quota.</summary>
    private void Admit(string colony)
    {
        CheckColony(colony);
        quotas.Take(colony);
    }

    private async IAsyncEnumerable<StoredRecord> ScanChecked(
        string colony, byte[] from, bool exclusive, byte[]? to, long limit, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var page = new PageBounds(Options.MaxScanPage, Options.MaxScanPageBytes);
        var records = router.Scan(colony, from, exclusive, to, limit, page, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await records.MoveNextAsync())
                    {
                        yield break;
                    }
                }
                catch (KblStatusException e)
                {
                    throw Refusal(colony, e);
                }

                yield return records.Current;
            }
        }
        finally
        {
            await records.DisposeAsync();
        }
    }

    private static ApiException Refusal(string colony, KblStatusException e) =>
        e.Status == KblStatus.NoColony ? NoColony(colony) : new ApiException(ApiError.Unavailable, e.Message);

    private static T Check<T>(T reply)
        where T : IKblReply => reply.Status switch
        {
            KblStatus.NoColony => throw new ApiException(ApiError.NotFound, reply.Message ?? "no such colony"),
            KblStatus.Unavailable => throw new ApiException(ApiError.Unavailable, reply.Message ?? "the KBL is unavailable"),
            KblStatus.OutcomeUnknown => throw new ApiException(ApiError.OutcomeUnknown, reply.Message ?? "the write may or may not have happened"),
            _ => reply,
        };

    private static long Written(WriteResult result, string colony, byte[] key) => Refused(Check(result), colony, key) is { } refusal ? throw refusal : result.Version;

    /// <summary>Why a write was not applied, or null when it was.</summary>
    private static ApiException? Refused(WriteResult result, string colony, byte[] key) => result.Status switch
    {
        KblStatus.Ok => null,
        KblStatus.NotFound => NoRecord(colony, key),
        KblStatus.PreconditionFailed => new ApiException(
            ApiError.PreconditionFailed,
            result.Version == 0 ? $"record '{KeyOrder.Display(key)}' does not exist" : $"record '{KeyOrder.Display(key)}' is at version {result.Version}"),
        KblStatus.OutcomeUnknown => new ApiException(ApiError.OutcomeUnknown, result.Message ?? "the write may or may not have happened"),
        _ => new ApiException(ApiError.Unavailable, result.Message ?? result.Status.ToString()),
    };

    private static ApiException NoRecord(string colony, byte[] key) => new(ApiError.NotFound, $"colony '{colony}' has no record '{KeyOrder.Display(key)}'");

    private static ApiException NoColony(string colony) => new(ApiError.NotFound, $"colony '{colony}' does not exist");

    /// <summary>An aggregate's operation by its API name.</summary>
    public static AggregateOp ParseOp(string? op) => op switch
    {
        "count" => AggregateOp.Count,
        "sum" => AggregateOp.Sum,
        "min" => AggregateOp.Min,
        "max" => AggregateOp.Max,
        "avg" => AggregateOp.Avg,
        _ => throw new ApiException(ApiError.BadRequest, $"aggregate op '{op}' must be one of count, sum, min, max, avg"),
    };

    /// <summary>The message for a failure that is the cluster's, not the request's (503), or null.</summary>
    public static string? Unavailable(Exception e) => e switch
    {
        Grains.NodeGroupUnavailableException g => g.Message,
        { InnerException: Grains.NodeGroupUnavailableException g } => g.Message,

        // A stale activation (an old home paused past its failover, a duplicate) whose conditional write of its state
        // lost to a newer one: Orleans' own wording names storage etags, which say nothing to a client.
        Orleans.Storage.InconsistentStateException => "the cluster could not serve this request now: it reached a KBL's stale activation (a newer one took over its shard on another silo); retry",
        TimeoutException or OrleansException or KblRoutingException => $"the cluster could not serve this request now: {e.Message}",
        _ => null,
    };
}

/// <summary>One record's outcome in a batch: its version (and value, for a read), or why it has none.</summary>
public sealed record BatchItem(byte[] Key, ApiError? Error, string? Message, long Version, byte[]? Value)
{
    public static BatchItem Failed(byte[] key, ApiException refusal) => new(key, refusal.Kind, refusal.Message, 0, null);
}
