using System.Globalization;
using Amazon;
using Amazon.DynamoDBv2;
using Amazon.DynamoDBv2.Model;
using Microsoft.Extensions.Logging;

namespace Kbl.Persistence.DynamoDb;

/// <summary>
/// The provider's DynamoDB table, as raw items: the client, the table's creation and checks, single-item gets
/// and conditional puts, and the chunk items of large states (written and read in batches, retrying unprocessed
/// items with backoff). What the items mean (versions, tombstones, ETags) is <see cref="DynamoDbGrainStorage"/>'s.
/// </summary>
/// <remarks>Key schema: hash key <c>grain</c> (the grain id), range key <c>item</c>, both strings.</remarks>
internal sealed partial class DynamoDbTable : IDisposable
{
    /// <summary>How long <see cref="EnsureReadyAsync"/> waits for the table to become ACTIVE.</summary>
    public static readonly TimeSpan ActiveTimeout = TimeSpan.FromMinutes(5);

    internal const string GrainAttribute = "grain";
    internal const string ItemAttribute = "item";
    internal const string VersionAttribute = "version";
    internal const string PayloadAttribute = "payload";
    internal const string ChunksAttribute = "chunks";
    internal const string SizeAttribute = "size";
    internal const string WriteIdAttribute = "writeId";
    internal const string ClearedAttribute = "cleared";
    internal const string UpdatedAtAttribute = "updatedAt";

    private const int BatchWriteLimit = 25;
    private const int BatchGetLimit = 100;
    private const int MaxBatchAttempts = 10;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    private readonly string _provider;
    private readonly bool _createTable;
    private readonly int _inlinePayloadBytes;
    private readonly int _chunkBytes;
    private readonly AmazonDynamoDBClient _client;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    /// <param name="provider">The grain storage provider's name, for messages.</param>
    public DynamoDbTable(string provider, DynamoDbGrainStorageOptions options, TimeProvider timeProvider, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.TableName, nameof(options) + "." + nameof(options.TableName));
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Region, nameof(options) + "." + nameof(options.Region));
        ArgumentOutOfRangeException.ThrowIfNegative(options.InlinePayloadBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.InlinePayloadBytes, DynamoDbGrainStorageOptions.MaxItemPayloadBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.ChunkBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.ChunkBytes, DynamoDbGrainStorageOptions.MaxItemPayloadBytes);
        ArgumentNullException.ThrowIfNull(timeProvider);
        ArgumentNullException.ThrowIfNull(logger);

        _provider = provider;
        Name = options.TableName;
        _createTable = options.CreateTable;
        _inlinePayloadBytes = options.InlinePayloadBytes;
        _chunkBytes = options.ChunkBytes;
        _timeProvider = timeProvider;
        _logger = logger;

        var config = new AmazonDynamoDBConfig();
        if (string.IsNullOrEmpty(options.ServiceUrl))
        {
            // The SDK's default credential chain, resolved by the client when it first signs a request:
            // environment, profile, web identity (IRSA), container (Pod Identity), instance profile.
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
            Endpoint = $"the AWS endpoint of {options.Region}";
            _client = new AmazonDynamoDBClient(config);
        }
        else
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
            Endpoint = options.ServiceUrl;
            var (credentials, source) = DynamoDbCredentials.ForServiceUrl();
            LogCredentials(_logger, _provider, Endpoint, source);
            _client = new AmazonDynamoDBClient(credentials, config);
        }
    }

    /// <summary>The table's name.</summary>
    public string Name { get; }

    /// <summary>Where the table is, for messages (the service URL, or the AWS endpoint of the region).</summary>
    public string Endpoint { get; }

    /// <summary>
    /// Checks that the table exists with this provider's key schema, creating it first when
    /// <see cref="DynamoDbGrainStorageOptions.CreateTable"/> is set, and waits until it is ACTIVE.
    /// </summary>
    public async Task EnsureReadyAsync()
    {
        TableDescription table;
        try
        {
            table = (await _client.DescribeTableAsync(Name).ConfigureAwait(false)).Table;
        }
        catch (ResourceNotFoundException) when (_createTable)
        {
            table = await CreateAsync().ConfigureAwait(false);
        }
        catch (ResourceNotFoundException ex)
        {
            throw new InvalidOperationException(
                $"DynamoDB grain storage '{_provider}': table '{Name}' does not exist at {Endpoint}. Create it "
                    + $"(hash key '{GrainAttribute}' and range key '{ItemAttribute}', both strings) or set "
                    + "Kbl:Storage:DynamoDb:CreateTable=true.",
                ex);
        }

        CheckKeySchema(table);
        var deadline = _timeProvider.GetUtcNow() + ActiveTimeout;
        while (table.TableStatus != TableStatus.ACTIVE)
        {
            if (_timeProvider.GetUtcNow() > deadline)
            {
                throw new TimeoutException(
                    $"DynamoDB grain storage '{_provider}': table '{Name}' at {Endpoint} is still {table.TableStatus} after {ActiveTimeout}.");
            }

            await Task.Delay(PollInterval, _timeProvider).ConfigureAwait(false);
            table = (await _client.DescribeTableAsync(Name).ConfigureAwait(false)).Table;
        }

        LogReady(_logger, _provider, Name, Endpoint);
    }

    /// <summary>One item, read strongly consistent; only <paramref name="attributes"/> when given. Null when there is none.</summary>
    public async Task<Dictionary<string, AttributeValue>?> GetItemAsync(
        string grainKey,
        string itemKey,
        IReadOnlyList<string>? attributes,
        CancellationToken cancellationToken)
    {
        var request = new GetItemRequest { TableName = Name, Key = Key(grainKey, itemKey), ConsistentRead = true };
        if (attributes is not null)
        {
            request.ProjectionExpression = string.Join(", ", attributes.Select(a => "#" + a));
            request.ExpressionAttributeNames = attributes.ToDictionary(a => "#" + a, a => a, StringComparer.Ordinal);
        }

        return (await _client.GetItemAsync(request, cancellationToken).ConfigureAwait(false)).Item;
    }

    /// <summary>One <c>PutItem</c> (its condition set by the caller) into this table; false when the condition failed.</summary>
    public async Task<bool> TryPutItemAsync(PutItemRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.TableName = Name;
        try
        {
            await _client.PutItemAsync(request).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    /// <summary>The chunk set for a payload of <paramref name="length"/> bytes, or null when it fits in the state item.</summary>
    public ChunkSet? ChunksFor(string writeId, int length) => length > _inlinePayloadBytes
        ? new ChunkSet(writeId, (int)((length + (long)_chunkBytes - 1) / _chunkBytes))
        : null;

    /// <summary>Writes <paramref name="payload"/> into the chunk items of <paramref name="chunks"/>.</summary>
    public async Task PutChunksAsync(string grainKey, ChunkSet chunks, byte[] payload)
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
    public async Task DeleteChunksAsync(string grainKey, ChunkSet chunks)
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
            LogChunkCleanupFailed(_logger, ex, _provider, grainKey, chunks.WriteId, chunks.Count);
        }
    }

    /// <summary>The payload of a chunk set, or null when a chunk is gone (superseded since the state item was read).</summary>
    public async Task<byte[]?> ReadChunksAsync(string grainKey, ChunkSet chunks, long size, CancellationToken cancellationToken)
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
                    RequestItems = new() { [Name] = new KeysAndAttributes { Keys = pending, ConsistentRead = true } },
                }, cancellationToken).ConfigureAwait(false);
                if (response.Responses is { } responses && responses.TryGetValue(Name, out var items) && items is not null)
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

                pending = response.UnprocessedKeys is { } unprocessed && unprocessed.TryGetValue(Name, out var left) && left?.Keys is { } keys
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

    /// <inheritdoc />
    public void Dispose() => _client.Dispose();

    internal static AttributeValue Number(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };

    internal static byte[] Bytes(MemoryStream stream) =>
        stream.TryGetBuffer(out var buffer) && buffer.Offset == 0 && buffer.Count == buffer.Array!.Length
            ? buffer.Array
            : stream.ToArray();

    private static Dictionary<string, AttributeValue> Key(string grainKey, string itemKey) => new()
    {
        [GrainAttribute] = new() { S = grainKey },
        [ItemAttribute] = new() { S = itemKey },
    };

    private async Task<TableDescription> CreateAsync()
    {
        try
        {
            var created = await _client.CreateTableAsync(new CreateTableRequest
            {
                TableName = Name,
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
            LogTableCreated(_logger, _provider, Name, Endpoint);
            return created.TableDescription;
        }
        catch (ResourceInUseException)
        {
            // Another silo created it first.
            return (await _client.DescribeTableAsync(Name).ConfigureAwait(false)).Table;
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
                $"DynamoDB grain storage '{_provider}': table '{Name}' at {Endpoint} has hash key '{hash}' and range key "
                    + $"'{range ?? "none"}'; this provider needs hash key '{GrainAttribute}' and range key '{ItemAttribute}' (strings).");
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
                    RequestItems = new() { [Name] = pending },
                }).ConfigureAwait(false);
                pending = response.UnprocessedItems is { } unprocessed && unprocessed.TryGetValue(Name, out var left) && left is not null
                    ? left
                    : [];
                if (pending.Count > 0)
                {
                    await BackOffAsync(attempt, "batch write", CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
    }

    private Task BackOffAsync(int attempt, string what, CancellationToken cancellationToken)
    {
        if (attempt >= MaxBatchAttempts)
        {
            throw new InvalidOperationException(
                $"DynamoDB grain storage '{_provider}': a {what} on table '{Name}' still had unprocessed items after {attempt} attempts.");
        }

        return Task.Delay(TimeSpan.FromMilliseconds(25 << Math.Min(attempt, 6)), _timeProvider, cancellationToken);
    }

    [LoggerMessage(EventId = 41100, Level = LogLevel.Information,
        Message = "DynamoDB grain storage {Name} ready: table {Table} at {Endpoint}")]
    private static partial void LogReady(ILogger logger, string name, string table, string endpoint);

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
