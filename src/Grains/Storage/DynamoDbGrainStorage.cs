using System.Globalization;
using System.Text;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Storage;

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
/// ETag never disagrees with the table.</para>
/// </remarks>
public sealed partial class DynamoDbGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    /// <summary>How long <see cref="EnsureTableAsync"/> waits for a table to become ACTIVE.</summary>
    public static readonly TimeSpan TableActiveTimeout = TimeSpan.FromMinutes(5);

    internal const string GrainAttribute = "grain";
    internal const string ItemAttribute = "item";
    internal const string VersionAttribute = "version";
    internal const string PayloadAttribute = "payload";
    internal const string ChunksAttribute = "chunks";
    internal const string SizeAttribute = "size";
    internal const string WriteIdAttribute = "writeId";
    internal const string ClearedAttribute = "cleared";
    internal const string UpdatedAtAttribute = "updatedAt";

    private const int MaxGrainKeyBytes = 2048; // DynamoDB's limit for a partition key value
    private const int MaxItemKeyBytes = 1024; // and for a sort key value
    private const int BatchWriteLimit = 25;
    private const int BatchGetLimit = 100;
    private const int MaxReadAttempts = 8;
    private const int MaxBatchAttempts = 10;

    private static readonly TimeSpan TablePollInterval = TimeSpan.FromMilliseconds(250);

    private readonly string _name;
    private readonly string _tableName;
    private readonly bool _createTable;
    private readonly int _inlinePayloadBytes;
    private readonly int _chunkBytes;
    private readonly string _endpoint;
    private readonly AmazonDynamoDBClient _client;
    private readonly IGrainStorageSerializer _serializer;
    private readonly IActivatorProvider _activators;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<DynamoDbGrainStorage> _logger;
    private readonly Lock _tableGate = new();
    private Task? _table;

    public DynamoDbGrainStorage(
        string name,
        DynamoDbGrainStorageOptions options,
        IGrainStorageSerializer serializer,
        IActivatorProvider activators,
        TimeProvider timeProvider,
        ILogger<DynamoDbGrainStorage> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.TableName, nameof(options) + "." + nameof(options.TableName));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Region, nameof(options) + "." + nameof(options.Region));
        ArgumentOutOfRangeException.ThrowIfNegative(options.InlinePayloadBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.InlinePayloadBytes, DynamoDbGrainStorageOptions.MaxItemPayloadBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.ChunkBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ChunkBytes, DynamoDbGrainStorageOptions.MaxItemPayloadBytes);
        ArgumentNullException.ThrowIfNull(serializer);
        ArgumentNullException.ThrowIfNull(activators);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);

        _name = name;
        _tableName = options.TableName;
        _createTable = options.CreateTable;
        _inlinePayloadBytes = options.InlinePayloadBytes;
        _chunkBytes = options.ChunkBytes;
        _serializer = serializer;
        _activators = activators;
        _timeProvider = timeProvider;
        _logger = logger;

        var config = new AmazonDynamoDBConfig();
        if (string.IsNullOrEmpty(options.ServiceUrl))
        {
            // The SDK's default credential chain, resolved by the client when it first signs a request:
            // environment, profile, web identity (IRSA), container (Pod Identity), instance profile.
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
            _endpoint = $"the AWS endpoint of {options.Region}";
            _client = new AmazonDynamoDBClient(config);
        }
        else
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
            _endpoint = options.ServiceUrl;
            var (credentials, source) = ServiceUrlCredentials();
            LogCredentials(_logger, _name, _endpoint, source);
            _client = new AmazonDynamoDBClient(credentials, config);
        }
    }

    /// <summary>The table this provider stores into.</summary>
    public string TableName => _tableName;

    /// <inheritdoc />
    public void Participate(ISiloLifecycle lifecycle)
    {
        ArgumentNullException.ThrowIfNull(lifecycle);
        // Check (or create) the table while the silo starts, so a missing table stops the silo instead of the first grain call.
        lifecycle.Subscribe(
            $"{nameof(DynamoDbGrainStorage)}-{_name}",
            ServiceLifecycleStage.ApplicationServices,
            _ => EnsureTableAsync(),
            _ => Task.CompletedTask);
    }

    /// <summary>
    /// Checks that the table exists with this provider's key schema, creating it first when
    /// <see cref="DynamoDbGrainStorageOptions.CreateTable"/> is set, and waits until it is ACTIVE.
    /// Runs once per instance unless it fails.
    /// </summary>
    public Task EnsureTableAsync()
    {
        lock (_tableGate)
        {
            if (_table is null || _table.IsFaulted || _table.IsCanceled)
            {
                _table = Task.Run(EnsureTableCoreAsync);
            }

            return _table;
        }
    }

    /// <inheritdoc />
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        await EnsureTableAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        await ReadCoreAsync(stateName, grainId, grainState, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        await EnsureTableAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        await WriteCoreAsync(stateName, grainId, grainState).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <inheritdoc />
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stateName);
        ArgumentNullException.ThrowIfNull(grainState);
        await EnsureTableAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        await ClearCoreAsync(stateName, grainId, grainState).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();

    private async Task EnsureTableCoreAsync()
    {
        try
        {
            TableDescription table;
            try
            {
                table = (await _client.DescribeTableAsync(_tableName).ConfigureAwait(false)).Table;
            }
            catch (ResourceNotFoundException) when (_createTable)
            {
                table = await CreateTableAsync().ConfigureAwait(false);
            }
            catch (ResourceNotFoundException ex)
            {
                throw new InvalidOperationException(
                    $"DynamoDB grain storage '{_name}': table '{_tableName}' does not exist at {_endpoint}. Create it "
                        + $"(hash key '{GrainAttribute}' and range key '{ItemAttribute}', both strings) or set "
                        + "Kbl:Storage:DynamoDb:CreateTable=true.",
                    ex);
            }

            CheckKeySchema(table);
            var deadline = _timeProvider.GetUtcNow() + TableActiveTimeout;
            while (table.TableStatus != TableStatus.ACTIVE)
            {
                if (_timeProvider.GetUtcNow() > deadline)
                {
                    throw new TimeoutException(
                        $"DynamoDB grain storage '{_name}': table '{_tableName}' at {_endpoint} is still {table.TableStatus} after {TableActiveTimeout}.");
                }

                await Task.Delay(TablePollInterval, _timeProvider).ConfigureAwait(false);
                table = (await _client.DescribeTableAsync(_tableName).ConfigureAwait(false)).Table;
            }

            LogReady(_logger, _name, _tableName, _endpoint);
        }
        catch (Exception ex)
        {
            LogTableFailed(_logger, ex, _name, _tableName, _endpoint);
            throw;
        }
    }

    private async Task<TableDescription> CreateTableAsync()
    {
        try
        {
            var created = await _client.CreateTableAsync(new CreateTableRequest
            {
                TableName = _tableName,
                BillingMode = BillingMode.PAY_PER_REQUEST,
                AttributeDefinitions =
                [
                    new AttributeDefinition(GrainAttribute, ScalarAttributeType.S),
                    new AttributeDefinition(ItemAttribute, ScalarAttributeType.S),
                ],
                KeySchema =
                [
                    new KeySchemaElement(GrainAttribute, KeyType.HASH),
                    new KeySchemaElement(ItemAttribute, KeyType.RANGE),
                ],
            }).ConfigureAwait(false);
            LogTableCreated(_logger, _name, _tableName, _endpoint);
            return created.TableDescription;
        }
        catch (ResourceInUseException)
        {
            // Another silo created it first.
            return (await _client.DescribeTableAsync(_tableName).ConfigureAwait(false)).Table;
        }
    }

    private void CheckKeySchema(TableDescription table)
    {
        var keys = table.KeySchema ?? [];
        var hash = keys.FirstOrDefault(k => k.KeyType == KeyType.HASH)?.AttributeName;
        var range = keys.FirstOrDefault(k => k.KeyType == KeyType.RANGE)?.AttributeName;
        if (hash != GrainAttribute || range != ItemAttribute)
        {
            throw new InvalidOperationException(
                $"DynamoDB grain storage '{_name}': table '{_tableName}' at {_endpoint} has hash key '{hash}' and range key "
                    + $"'{range ?? "none"}'; this provider needs hash key '{GrainAttribute}' and range key '{ItemAttribute}' (strings).");
        }
    }

    private async Task ReadCoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var grainKey = grainId.ToString();
        try
        {
            var itemKey = StateItemKey(grainKey, stateName);
            for (var attempt = 1; ; attempt++)
            {
                var response = await _client.GetItemAsync(
                    new GetItemRequest { TableName = _tableName, Key = Key(grainKey, itemKey), ConsistentRead = true },
                    cancellationToken).ConfigureAwait(false);
                var header = Header.From(response.Item);
                if (header is null || header.Cleared)
                {
                    grainState.State = CreateDefault<T>();
                    grainState.ETag = null;
                    grainState.RecordExists = false;
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
                    payload = await ReadChunksAsync(grainKey, header.Chunks, header.Size, cancellationToken).ConfigureAwait(false);
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

                grainState.State = _serializer.Deserialize<T>(new BinaryData(payload));
                grainState.ETag = header.Etag;
                grainState.RecordExists = true;
                return;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogReadFailed(_logger, ex, _name, stateName, grainKey);
            throw;
        }
    }

    private async Task WriteCoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var grainKey = grainId.ToString();
        var currentEtag = grainState.ETag;
        try
        {
            var itemKey = StateItemKey(grainKey, stateName);
            var payload = _serializer.Serialize(grainState.State).ToArray();
            var expectation = await ExpectationAsync("write", stateName, grainKey, itemKey, currentEtag).ConfigureAwait(false);
            var version = expectation.Version + 1;
            var writeId = Guid.NewGuid().ToString("N");
            var chunks = payload.Length > _inlinePayloadBytes
                ? new ChunkSet(writeId, (int)((payload.Length + (long)_chunkBytes - 1) / _chunkBytes))
                : null;

            var item = new Dictionary<string, AttributeValue>
            {
                [GrainAttribute] = new() { S = grainKey },
                [ItemAttribute] = new() { S = itemKey },
                [VersionAttribute] = Number(version),
                [SizeAttribute] = Number(payload.Length),
                [WriteIdAttribute] = new() { S = writeId },
                [UpdatedAtAttribute] = new() { S = _timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture) },
            };
            if (chunks is null)
            {
                if (payload.Length > 0)
                {
                    item[PayloadAttribute] = new() { B = new MemoryStream(payload, writable: false) };
                }
            }
            else
            {
                // Chunks first: the state item points at them only once they are all there.
                await PutChunksAsync(grainKey, chunks, payload).ConfigureAwait(false);
                item[ChunksAttribute] = Number(chunks.Count);
            }

            var (applied, stored) = await PutConditionallyAsync(grainKey, itemKey, item, expectation, version, writeId).ConfigureAwait(false);
            if (!applied)
            {
                if (chunks is not null)
                {
                    await DeleteChunksAsync(grainKey, chunks).ConfigureAwait(false);
                }

                throw Conflict("write", stateName, grainKey, stored?.Etag, currentEtag);
            }

            grainState.ETag = Header.FormatEtag(version, chunks);
            grainState.RecordExists = true;
            if (expectation.Superseded is { } superseded)
            {
                await DeleteChunksAsync(grainKey, superseded).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not InconsistentStateException)
        {
            LogWriteFailed(_logger, ex, _name, stateName, grainKey);
            throw;
        }
    }

    private async Task ClearCoreAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var grainKey = grainId.ToString();
        var currentEtag = grainState.ETag;
        try
        {
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
                    [GrainAttribute] = new() { S = grainKey },
                    [ItemAttribute] = new() { S = itemKey },
                    [VersionAttribute] = Number(version),
                    [ClearedAttribute] = new() { BOOL = true },
                    [WriteIdAttribute] = new() { S = writeId },
                    [UpdatedAtAttribute] = new() { S = _timeProvider.GetUtcNow().ToString("O", CultureInfo.InvariantCulture) },
                };
                var (applied, stored) = await PutConditionallyAsync(grainKey, itemKey, tombstone, expectation, version, writeId).ConfigureAwait(false);
                if (!applied)
                {
                    throw Conflict("clear", stateName, grainKey, stored?.Etag, currentEtag);
                }

                if (expectation.Superseded is { } superseded)
                {
                    await DeleteChunksAsync(grainKey, superseded).ConfigureAwait(false);
                }
            }

            grainState.State = CreateDefault<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
        catch (Exception ex) when (ex is not InconsistentStateException)
        {
            LogClearFailed(_logger, ex, _name, stateName, grainKey);
            throw;
        }
    }

    /// <summary>What the stored state item must look like for the handle's write or clear to apply.</summary>
    private async Task<Expectation> ExpectationAsync(string operation, string stateName, string grainKey, string itemKey, string? currentEtag)
    {
        if (currentEtag is not null)
        {
            if (!Header.TryParseEtag(currentEtag, out var expected, out var superseded))
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
    private async Task<(bool Applied, Header? Stored)> PutConditionallyAsync(
        string grainKey,
        string itemKey,
        Dictionary<string, AttributeValue> item,
        Expectation expectation,
        long version,
        string writeId)
    {
        var request = new PutItemRequest { TableName = _tableName, Item = item };
        if (expectation is { Version: 0, Tombstone: false })
        {
            request.ConditionExpression = "attribute_not_exists(#grain)";
            request.ExpressionAttributeNames = new() { ["#grain"] = GrainAttribute };
        }
        else
        {
            request.ConditionExpression = expectation.Tombstone
                ? "#version = :expected AND #cleared = :true"
                : "#version = :expected AND attribute_not_exists(#cleared)";
            request.ExpressionAttributeNames = new() { ["#version"] = VersionAttribute, ["#cleared"] = ClearedAttribute };
            request.ExpressionAttributeValues = new() { [":expected"] = Number(expectation.Version) };
            if (expectation.Tombstone)
            {
                request.ExpressionAttributeValues[":true"] = new() { BOOL = true };
            }
        }

        try
        {
            await _client.PutItemAsync(request).ConfigureAwait(false);
            return (true, null);
        }
        catch (ConditionalCheckFailedException)
        {
            // The SDK retries a request whose answer was lost; its retry then fails the condition on our own write.
            // (ReturnValuesOnConditionCheckFailure would save this read, but dynalite ignores it.)
            var stored = await GetHeaderAsync(grainKey, itemKey).ConfigureAwait(false);
            return (stored is not null && stored.Version == version && stored.WriteId == writeId, stored);
        }
    }

    private async Task<Header?> GetHeaderAsync(string grainKey, string itemKey)
    {
        var response = await _client.GetItemAsync(new GetItemRequest
        {
            TableName = _tableName,
            Key = Key(grainKey, itemKey),
            ConsistentRead = true,
            ProjectionExpression = "#version, #cleared, #chunks, #size, #writeId",
            ExpressionAttributeNames = new()
            {
                ["#version"] = VersionAttribute,
                ["#cleared"] = ClearedAttribute,
                ["#chunks"] = ChunksAttribute,
                ["#size"] = SizeAttribute,
                ["#writeId"] = WriteIdAttribute,
            },
        }).ConfigureAwait(false);
        return Header.From(response.Item);
    }

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

    private async Task PutChunksAsync(string grainKey, ChunkSet chunks, byte[] payload)
    {
        var requests = new List<WriteRequest>(chunks.Count);
        for (var index = 0; index < chunks.Count; index++)
        {
            var offset = index * _chunkBytes;
            var length = Math.Min(_chunkBytes, payload.Length - offset);
            requests.Add(new WriteRequest(new PutRequest(new Dictionary<string, AttributeValue>
            {
                [GrainAttribute] = new() { S = grainKey },
                [ItemAttribute] = new() { S = chunks.ItemKey(index) },
                [PayloadAttribute] = new() { B = new MemoryStream(payload, offset, length, writable: false) },
            })));
        }

        await BatchWriteAsync(requests).ConfigureAwait(false);
    }

    /// <summary>Deletes a chunk set no state item points at any more. Best effort: a failure leaves garbage, never a wrong state.</summary>
    private async Task DeleteChunksAsync(string grainKey, ChunkSet chunks)
    {
        try
        {
            await BatchWriteAsync(Enumerable.Range(0, chunks.Count)
                .Select(index => new WriteRequest(new DeleteRequest(Key(grainKey, chunks.ItemKey(index)))))
                .ToList()).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Whatever went wrong (service, network, timeout), the state is already decided: do not fail the operation.
            LogChunkCleanupFailed(_logger, ex, _name, grainKey, chunks.WriteId, chunks.Count);
        }
    }

    private async Task BatchWriteAsync(List<WriteRequest> requests)
    {
        foreach (var batch in requests.Chunk(BatchWriteLimit))
        {
            var pending = batch.ToList();
            for (var attempt = 1; pending.Count > 0; attempt++)
            {
                var response = await _client.BatchWriteItemAsync(new BatchWriteItemRequest
                {
                    RequestItems = new() { [_tableName] = pending },
                }).ConfigureAwait(false);
                pending = response.UnprocessedItems is { } unprocessed && unprocessed.TryGetValue(_tableName, out var left) && left is not null
                    ? left
                    : [];
                if (pending.Count > 0)
                {
                    await BackOffAsync(attempt, "batch write", CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>The payload of a chunk set, or null when a chunk is gone (superseded since the state item was read).</summary>
    private async Task<byte[]?> ReadChunksAsync(string grainKey, ChunkSet chunks, long size, CancellationToken cancellationToken)
    {
        var parts = new byte[chunks.Count][];
        var found = 0;
        foreach (var batch in Enumerable.Range(0, chunks.Count).Chunk(BatchGetLimit))
        {
            var pending = batch.Select(index => Key(grainKey, chunks.ItemKey(index))).ToList();
            for (var attempt = 1; pending.Count > 0; attempt++)
            {
                var response = await _client.BatchGetItemAsync(new BatchGetItemRequest
                {
                    RequestItems = new() { [_tableName] = new KeysAndAttributes { Keys = pending, ConsistentRead = true } },
                }, cancellationToken).ConfigureAwait(false);
                if (response.Responses is { } responses && responses.TryGetValue(_tableName, out var items) && items is not null)
                {
                    foreach (var item in items)
                    {
                        if (!chunks.TryParseIndex(item[ItemAttribute].S, out var index) || parts[index] is not null)
                        {
                            continue;
                        }

                        parts[index] = Bytes(item[PayloadAttribute].B);
                        found++;
                    }
                }

                pending = response.UnprocessedKeys is { } unprocessed && unprocessed.TryGetValue(_tableName, out var left) && left?.Keys is { } keys
                    ? keys
                    : [];
                if (pending.Count > 0)
                {
                    await BackOffAsync(attempt, "batch read", cancellationToken).ConfigureAwait(false);
                }
            }
        }

        if (found < chunks.Count)
        {
            return null;
        }

        var payload = new byte[size];
        var offset = 0;
        foreach (var part in parts)
        {
            if (offset + part.Length > payload.Length)
            {
                return null;
            }

            part.CopyTo(payload, offset);
            offset += part.Length;
        }

        return offset == payload.Length ? payload : null;
    }

    private Task BackOffAsync(int attempt, string what, CancellationToken cancellationToken)
    {
        if (attempt >= MaxBatchAttempts)
        {
            throw new InvalidOperationException(
                $"DynamoDB grain storage '{_name}': a {what} on table '{_tableName}' still had unprocessed items after {attempt} attempts.");
        }

        return Task.Delay(TimeSpan.FromMilliseconds(25 << Math.Min(attempt, 6)), _timeProvider, cancellationToken);
    }

    private string StateItemKey(string grainKey, string stateName)
    {
        // DynamoDB refuses longer keys with a ValidationException that names neither grain nor state.
        if (Encoding.UTF8.GetByteCount(grainKey) > MaxGrainKeyBytes)
        {
            throw new ArgumentException($"DynamoDB grain storage '{_name}': grain id {grainKey} is longer than DynamoDB's {MaxGrainKeyBytes}-byte partition key limit.");
        }

        var itemKey = "state/" + stateName;
        if (Encoding.UTF8.GetByteCount(itemKey) > MaxItemKeyBytes)
        {
            throw new ArgumentException($"DynamoDB grain storage '{_name}': state name '{stateName}' of grain {grainKey} is longer than DynamoDB's sort key limit.");
        }

        return itemKey;
    }

    private static Dictionary<string, AttributeValue> Key(string grainKey, string itemKey) => new()
    {
        [GrainAttribute] = new() { S = grainKey },
        [ItemAttribute] = new() { S = itemKey },
    };

    private static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    private static byte[] Bytes(MemoryStream stream) =>
        stream.TryGetBuffer(out var buffer) && buffer.Offset == 0 && buffer.Count == buffer.Array!.Length
            ? buffer.Array
            : stream.ToArray();

    private InconsistentStateException Conflict(string operation, string stateName, string grainKey, string? storedEtag, string? currentEtag)
    {
        LogEtagConflict(_logger, _name, operation, stateName, grainKey, storedEtag ?? "none", currentEtag ?? "none");
        return new InconsistentStateException(
            $"DynamoDB grain storage '{_name}': {operation} of state '{stateName}' for grain {grainKey} rejected: "
                + $"stored ETag {storedEtag ?? "none"}, current ETag {currentEtag ?? "none"}.",
            storedEtag!,
            currentEtag!);
    }

    private InvalidOperationException Corrupt(string stateName, string grainKey, long version, string what) =>
        new($"DynamoDB grain storage '{_name}': state '{stateName}' of grain {grainKey} at version {version} in table '{_tableName}' {what}.");

    private T CreateDefault<T>() => _activators.GetActivator<T>().Create();

    /// <summary>
    /// Credentials for an explicit <see cref="DynamoDbGrainStorageOptions.ServiceUrl"/> (a local emulator):
    /// the default chain's steps that are configured here (environment, profile, web identity, container),
    /// else dummy keys, which local emulators accept. The chain's instance-metadata step is left out: with
    /// no metadata service it probes a link-local address for up to 35 s before giving up.
    /// </summary>
    private static (AWSCredentials Credentials, string Source) ServiceUrlCredentials()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID")))
        {
            return (new EnvironmentVariablesAWSCredentials(), "environment variables");
        }

        var profile = Environment.GetEnvironmentVariable("AWS_PROFILE") ?? "default";
        if (new CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var fromProfile))
        {
            return (fromProfile, $"profile {profile}");
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE")))
        {
            return (AssumeRoleWithWebIdentityCredentials.FromEnvironmentVariables(), "web identity");
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")))
        {
            return (new GenericContainerCredentials(), "container credentials");
        }

        return (new BasicAWSCredentials("kbl-local", "kbl-local"), "dummy keys (none configured)");
    }

    /// <summary>A state's chunk items: <c>chunk/{writeId}/{index}</c>, written once, never changed.</summary>
    private sealed record ChunkSet(string WriteId, int Count)
    {
        public string ItemKey(int index) => string.Create(CultureInfo.InvariantCulture, $"chunk/{WriteId}/{index:D6}");

        public bool TryParseIndex(string itemKey, out int index)
        {
            var prefix = $"chunk/{WriteId}/";
            index = -1;
            return itemKey.StartsWith(prefix, StringComparison.Ordinal)
                && int.TryParse(itemKey.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out index)
                && index < Count;
        }
    }

    /// <param name="Version">The stored version the write or clear expects.</param>
    /// <param name="Tombstone">True: it expects the tombstone of a clear at that version; false: a live record, or none at version 0.</param>
    /// <param name="Superseded">The handle's chunk set, garbage once the write or clear applies.</param>
    private sealed record Expectation(long Version, bool Tombstone, ChunkSet? Superseded);

    /// <summary>A state item as read back.</summary>
    private sealed record Header(long Version, bool Cleared, ChunkSet? Chunks, long Size, string? WriteId, byte[]? Payload)
    {
        public string? Etag => Cleared ? null : FormatEtag(Version, Chunks);

        public static Header? From(Dictionary<string, AttributeValue>? item)
        {
            if (item is null || item.Count == 0 || !item.TryGetValue(VersionAttribute, out var version))
            {
                return null;
            }

            var writeId = item.TryGetValue(WriteIdAttribute, out var w) ? w.S : null;
            var cleared = item.TryGetValue(ClearedAttribute, out var c) && c.BOOL == true;
            ChunkSet? chunks = null;
            if (!cleared && item.TryGetValue(ChunksAttribute, out var n) && writeId is not null)
            {
                chunks = new ChunkSet(writeId, int.Parse(n.N, NumberStyles.None, CultureInfo.InvariantCulture));
            }

            return new Header(
                long.Parse(version.N, NumberStyles.None, CultureInfo.InvariantCulture),
                cleared,
                chunks,
                item.TryGetValue(SizeAttribute, out var s) ? long.Parse(s.N, NumberStyles.None, CultureInfo.InvariantCulture) : 0,
                writeId,
                item.TryGetValue(PayloadAttribute, out var p) && p.B is not null ? Bytes(p.B) : null);
        }

        /// <summary><c>{version}</c>, or <c>{version}.{chunks}.{writeId}</c> for a chunked state.</summary>
        public static string FormatEtag(long version, ChunkSet? chunks) => chunks is null
            ? version.ToString(CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{version}.{chunks.Count}.{chunks.WriteId}");

        public static bool TryParseEtag(string etag, out long version, out ChunkSet? chunks)
        {
            chunks = null;
            var parts = etag.Split('.');
            if (!long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out version) || version <= 0)
            {
                return false;
            }

            if (parts.Length == 1)
            {
                return true;
            }

            if (parts.Length == 3
                && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var count)
                && count > 0
                && parts[2].Length == 32
                && parts[2].All(char.IsAsciiHexDigitLower))
            {
                chunks = new ChunkSet(parts[2], count);
                return true;
            }

            return false;
        }
    }

    [LoggerMessage(EventId = 41100, Level = LogLevel.Information,
        Message = "DynamoDB grain storage {Name} ready: table {Table} at {Endpoint}")]
    private static partial void LogReady(ILogger logger, string name, string table, string endpoint);

    [LoggerMessage(EventId = 41101, Level = LogLevel.Error,
        Message = "DynamoDB grain storage {Name} cannot use table {Table} at {Endpoint}")]
    private static partial void LogTableFailed(ILogger logger, Exception exception, string name, string table, string endpoint);

    [LoggerMessage(EventId = 41102, Level = LogLevel.Error,
        Message = "DynamoDB grain storage {Name} failed to read state {StateName} of grain {GrainId}")]
    private static partial void LogReadFailed(ILogger logger, Exception exception, string name, string stateName, string grainId);

    [LoggerMessage(EventId = 41103, Level = LogLevel.Error,
        Message = "DynamoDB grain storage {Name} failed to write state {StateName} of grain {GrainId}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string name, string stateName, string grainId);

    [LoggerMessage(EventId = 41104, Level = LogLevel.Error,
        Message = "DynamoDB grain storage {Name} failed to clear state {StateName} of grain {GrainId}")]
    private static partial void LogClearFailed(ILogger logger, Exception exception, string name, string stateName, string grainId);

    [LoggerMessage(EventId = 41105, Level = LogLevel.Warning,
        Message = "DynamoDB grain storage {Name} rejected a {Operation} of state {StateName} of grain {GrainId}: stored ETag {StoredEtag}, current ETag {CurrentEtag}")]
    private static partial void LogEtagConflict(ILogger logger, string name, string operation, string stateName, string grainId, string storedEtag, string currentEtag);

    [LoggerMessage(EventId = 41106, Level = LogLevel.Information,
        Message = "DynamoDB grain storage {Name} created table {Table} at {Endpoint}")]
    private static partial void LogTableCreated(ILogger logger, string name, string table, string endpoint);

    [LoggerMessage(EventId = 41107, Level = LogLevel.Warning,
        Message = "DynamoDB grain storage {Name} could not delete the {Count} superseded chunks {WriteId} of grain {GrainId}; they stay as garbage")]
    private static partial void LogChunkCleanupFailed(ILogger logger, Exception exception, string name, string grainId, string writeId, int count);

    [LoggerMessage(EventId = 41108, Level = LogLevel.Information,
        Message = "DynamoDB grain storage {Name} signs requests to {Endpoint} with {Source}")]
    private static partial void LogCredentials(ILogger logger, string name, string endpoint, string source);
}
