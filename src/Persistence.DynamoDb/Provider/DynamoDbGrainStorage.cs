using System.Text;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Persistence.DynamoDb;

/// <summary>
/// Orleans grain storage on one DynamoDB table, shared by every silo of a cluster.
/// </summary>
/// <remarks>
/// <para>Key schema: hash key <c>grain</c> (the grain id), range key <c>item</c>. A state lives in the
/// item <c>state/{state name}</c>: numeric <c>version</c>, the payload (Orleans binary serializer) in
/// <c>payload</c> when it fits in one item, else in <c>chunks</c> chunk items <c>chunk/{writeId}/{index}</c>
/// under the same grain, written before the state item that points at them.</para>
/// <para>Every write and clear is one conditional <c>PutItem</c> of the state item, comparing the stored
/// <c>version</c> with the handle's; no transactions (dynalite has none). A clear leaves a tombstone
/// (<c>cleared</c>) that keeps the version, and the next insert continues from it, so a version is never
/// issued twice for a (grain, state): an ETag from before a clear cannot overwrite the record written
/// after it (no ABA). The ETag is the version; for a chunked state it also names the chunk set
/// (<c>{version}.{chunks}.{writeId}</c>), so the write that supersedes it deletes exactly those chunks
/// without reading them first. Chunks are immutable and named by a fresh write id per attempt, so a
/// losing writer never touches the winner's chunks; a reader that finds a chunk gone (a newer write
/// deleted it after the reader saw the old state item) reads the state item again.</para>
/// <para>Reads are strongly consistent. A cancellation token is honoured throughout a read, and by a
/// write or clear until its first request is sent; a started write runs to completion, so the grain's
/// ETag never disagrees with the table. The table's items, chunks and batches are <see cref="DynamoDbTable"/>'s.</para>
/// </remarks>
public sealed class DynamoDbGrainStorage : GrainStorageProvider, IDisposable
{
    private const int MaxGrainKeyBytes = 2048; // DynamoDB's limit for a partition key value
    private const int MaxItemKeyBytes = 1024; // and for a sort key value
    private const int MaxReadAttempts = 8;

    private static readonly GrainStorageEvents Events = new("DynamoDB", firstEventId: 41100);

    /// <summary>What a state item's header is read with (everything but the payload).</summary>
    private static readonly string[] HeaderAttributes =
    [
        DynamoDbTable.VersionAttribute,
        DynamoDbTable.ClearedAttribute,
        DynamoDbTable.ChunksAttribute,
        DynamoDbTable.SizeAttribute,
        DynamoDbTable.WriteIdAttribute,
    ];

    private readonly DynamoDbTable _table;

    public DynamoDbGrainStorage(
        string name,
        DynamoDbGrainStorageOptions options,
        IGrainStorageSerializer serializer,
        IActivatorProvider activators,
        TimeProvider timeProvider,
        ILogger<DynamoDbGrainStorage> logger)
        : base(name, serializer, activators, timeProvider, logger, Events)
    {
        _table = new DynamoDbTable(name, options, timeProvider, logger);
    }

    /// <summary>The table this provider stores into.</summary>
    public string TableName => _table.Name;

    /// <inheritdoc />
    public void Dispose() => _table.Dispose();

    /// <summary>
    /// Checks that the table exists with this provider's key schema, creating it first when
    /// <see cref="DynamoDbGrainStorageOptions.CreateTable"/> is set, and waits until it is ACTIVE.
    /// </summary>
    protected override Task InitializeAsync() => _table.EnsureReadyAsync();

    /// <inheritdoc />
    protected override async Task ReadCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var itemKey = StateItemKey(grainKey, stateName);
        for (var attempt = 1; ; attempt++)
        {
            var item = await _table.GetItemAsync(grainKey, itemKey, attributes: null, cancellationToken).ConfigureAwait(false);
            var header = StateItemHeader.From(item);
            if (header is null || header.Cleared)
            {
                SetAbsent(grainState);
                return;
            }

            byte[]? payload;
            if (header.Chunks is null)
            {
                payload = header.Payload
                    ?? (header.Size == 0 ? [] : throw Corrupt(stateName, grainKey, header.Version, "has neither a payload nor chunks"));
            }
            else
            {
                payload = await _table.ReadChunksAsync(grainKey, header.Chunks, header.Size, cancellationToken).ConfigureAwait(false);
                if (payload is null)
                {
                    // A newer write deleted this version's chunks after we read the state item: read it again.
                    if (attempt >= MaxReadAttempts)
                    {
                        throw Corrupt(stateName, grainKey, header.Version, $"still lacks chunks after {attempt} reads");
                    }

                    continue;
                }
            }

            grainState.State = Serializer.Deserialize<T>(new BinaryData(payload));
            grainState.ETag = header.Etag;
            grainState.RecordExists = true;
            return;
        }
    }

    /// <inheritdoc />
    protected override async Task WriteCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState)
    {
        var currentEtag = grainState.ETag;
        var itemKey = StateItemKey(grainKey, stateName);
        var payload = Serializer.Serialize(grainState.State).ToArray();
        var expectation = await ExpectationAsync("write", stateName, grainKey, itemKey, currentEtag).ConfigureAwait(false);
        var version = expectation.Version + 1;
        var writeId = Guid.NewGuid().ToString("N");
        var chunks = _table.ChunksFor(writeId, payload.Length);

        var item = new Dictionary<string, AttributeValue>
        {
            [DynamoDbTable.GrainAttribute] = new() { S = grainKey },
            [DynamoDbTable.ItemAttribute] = new() { S = itemKey },
            [DynamoDbTable.VersionAttribute] = DynamoDbTable.Number(version),
            [DynamoDbTable.SizeAttribute] = DynamoDbTable.Number(payload.Length),
            [DynamoDbTable.WriteIdAttribute] = new() { S = writeId },
            [DynamoDbTable.UpdatedAtAttribute] = new() { S = Timestamp() },
        };
        if (chunks is null)
        {
            if (payload.Length > 0)
            {
                item[DynamoDbTable.PayloadAttribute] = new() { B = new MemoryStream(payload, writable: false) };
            }
        }
        else
        {
            // Chunks first: the state item points at them only once they are all there.
            await _table.PutChunksAsync(grainKey, chunks, payload).ConfigureAwait(false);
            item[DynamoDbTable.ChunksAttribute] = DynamoDbTable.Number(chunks.Count);
        }

        var (applied, stored) = await PutConditionallyAsync(grainKey, itemKey, item, expectation, version, writeId).ConfigureAwait(false);
        if (!applied)
        {
            if (chunks is not null)
            {
                await _table.DeleteChunksAsync(grainKey, chunks).ConfigureAwait(false);
            }

            throw Conflict("write", stateName, grainKey, stored?.Etag, currentEtag);
        }

        grainState.ETag = StateItemHeader.FormatEtag(version, chunks);
        grainState.RecordExists = true;
        if (expectation.Superseded is { } superseded)
        {
            await _table.DeleteChunksAsync(grainKey, superseded).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    protected override async Task ClearCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState)
    {
        var currentEtag = grainState.ETag;
        var itemKey = StateItemKey(grainKey, stateName);
        if (currentEtag is null)
        {
            // Nothing to clear unless a record exists, and then the grain does not know about it.
            var stored = await GetHeaderAsync(grainKey, itemKey).ConfigureAwait(false);
            if (stored is { Cleared: false })
            {
                throw Conflict("clear", stateName, grainKey, stored.Etag, currentEtag);
            }
        }
        else
        {
            var expectation = await ExpectationAsync("clear", stateName, grainKey, itemKey, currentEtag).ConfigureAwait(false);
            var version = expectation.Version + 1;
            var writeId = Guid.NewGuid().ToString("N");
            var tombstone = new Dictionary<string, AttributeValue>
            {
                [DynamoDbTable.GrainAttribute] = new() { S = grainKey },
                [DynamoDbTable.ItemAttribute] = new() { S = itemKey },
                [DynamoDbTable.VersionAttribute] = DynamoDbTable.Number(version),
                [DynamoDbTable.ClearedAttribute] = new() { BOOL = true },
                [DynamoDbTable.WriteIdAttribute] = new() { S = writeId },
                [DynamoDbTable.UpdatedAtAttribute] = new() { S = Timestamp() },
            };
            var (applied, stored) = await PutConditionallyAsync(grainKey, itemKey, tombstone, expectation, version, writeId).ConfigureAwait(false);
            if (!applied)
            {
                throw Conflict("clear", stateName, grainKey, stored?.Etag, currentEtag);
            }

            if (expectation.Superseded is { } superseded)
            {
                await _table.DeleteChunksAsync(grainKey, superseded).ConfigureAwait(false);
            }
        }

        SetAbsent(grainState);
    }

    /// <summary>What the stored state item must look like for the handle's write or clear to apply.</summary>
    private async Task<Expectation> ExpectationAsync(string operation, string stateName, string grainKey, string itemKey, string? currentEtag)
    {
        if (currentEtag is not null)
        {
            if (!StateItemHeader.TryParseEtag(currentEtag, out var expected, out var superseded))
            {
                // An ETag this provider never issued matches no record.
                throw Conflict(operation, stateName, grainKey, await StoredEtagAsync(grainKey, itemKey).ConfigureAwait(false), currentEtag);
            }

            return new Expectation(expected, Tombstone: false, superseded);
        }

        // The grain believes there is no record: there must be none, or a tombstone whose version we continue from.
        var stored = await GetHeaderAsync(grainKey, itemKey).ConfigureAwait(false);
        return stored switch
        {
            null => new Expectation(0, Tombstone: false, null),
            { Cleared: true } => new Expectation(stored.Version, Tombstone: true, null),
            _ => throw Conflict(operation, stateName, grainKey, stored.Etag, currentEtag),
        };
    }

    /// <summary>
    /// One conditional <c>PutItem</c> of the state item. Applied is true when it applied, including when an
    /// SDK retry of a request that had applied found its own write; else Stored is the state item read
    /// after the failed condition (for the conflict message).
    /// </summary>
    private async Task<(bool Applied, StateItemHeader? Stored)> PutConditionallyAsync(
        string grainKey,
        string itemKey,
        Dictionary<string, AttributeValue> item,
        Expectation expectation,
        long version,
        string writeId)
    {
        var request = new PutItemRequest { Item = item };
        if (expectation is { Version: 0, Tombstone: false })
        {
            request.ConditionExpression = "attribute_not_exists(#grain)";
            request.ExpressionAttributeNames = new() { ["#grain"] = DynamoDbTable.GrainAttribute };
        }
        else
        {
            request.ConditionExpression = expectation.Tombstone
                ? "#version = :expected AND #cleared = :true"
                : "#version = :expected AND attribute_not_exists(#cleared)";
            request.ExpressionAttributeNames = new() { ["#version"] = DynamoDbTable.VersionAttribute, ["#cleared"] = DynamoDbTable.ClearedAttribute };
            request.ExpressionAttributeValues = new() { [":expected"] = DynamoDbTable.Number(expectation.Version) };
            if (expectation.Tombstone)
            {
                request.ExpressionAttributeValues[":true"] = new() { BOOL = true };
            }
        }

        if (await _table.TryPutItemAsync(request).ConfigureAwait(false))
        {
            return (true, null);
        }

        // The SDK retries a request whose answer was lost; its retry then fails the condition on our own write.
        // (ReturnValuesOnConditionCheckFailure would save this read, but dynalite ignores it.)
        var stored = await GetHeaderAsync(grainKey, itemKey).ConfigureAwait(false);
        return (stored is not null && stored.Version == version && stored.WriteId == writeId, stored);
    }

    private async Task<StateItemHeader?> GetHeaderAsync(string grainKey, string itemKey) =>
        StateItemHeader.From(await _table.GetItemAsync(grainKey, itemKey, HeaderAttributes, CancellationToken.None).ConfigureAwait(false));

    /// <summary>The stored ETag for a conflict message; best effort, read after the failed condition.</summary>
    private async Task<string?> StoredEtagAsync(string grainKey, string itemKey)
    {
        try
        {
            return (await GetHeaderAsync(grainKey, itemKey).ConfigureAwait(false))?.Etag;
        }
        catch (AmazonServiceException)
        {
            return "unknown";
        }
    }

    private string StateItemKey(string grainKey, string stateName)
    {
        // DynamoDB refuses longer keys with a ValidationException that names neither grain nor state.
        if (Encoding.UTF8.GetByteCount(grainKey) > MaxGrainKeyBytes)
        {
            throw new ArgumentException($"DynamoDB grain storage '{Name}': grain id {grainKey} is longer than DynamoDB's {MaxGrainKeyBytes}-byte partition key limit.");
        }

        var itemKey = "state/" + stateName;
        if (Encoding.UTF8.GetByteCount(itemKey) > MaxItemKeyBytes)
        {
            throw new ArgumentException($"DynamoDB grain storage '{Name}': state name '{stateName}' of grain {grainKey} is longer than DynamoDB's sort key limit.");
        }

        return itemKey;
    }

    private InvalidOperationException Corrupt(string stateName, string grainKey, long version, string what) =>
        new($"DynamoDB grain storage '{Name}': state '{stateName}' of grain {grainKey} at version {version} in table '{_table.Name}' {what}.");

    /// <param name="Version">The stored version the write or clear expects.</param>
    /// <param name="Tombstone">True: it expects the tombstone of a clear at that version; false: a live record, or none at version 0.</param>
    /// <param name="Superseded">The handle's chunk set, garbage once the write or clear applies.</param>
    private sealed record Expectation(long Version, bool Tombstone, ChunkSet? Superseded);
}
