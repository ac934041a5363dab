using System.Globalization;
using Amazon.DynamoDBv2.Model;
using Kbl.Persistence.DynamoDb;
using Kbl.Storage;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace Kbl.Tests.Storage;

/// <summary>
/// <see cref="DynamoDbGrainStorage"/> against the conformance suite on a local DynamoDB server, in a
/// table of the fixture's own (created by the provider), plus what is particular to DynamoDB: the
/// stored layout, chunk clean-up, tombstones and a missing table. Each provider instance has its own
/// service container, as it would in its own silo process.
/// </summary>
public abstract class DynamoDbGrainStorageConformance<TFixture> : GrainStorageConformance, IDisposable
    where TFixture : LocalDynamoDbFixture
{
    private readonly List<ServiceProvider> _containers = [];
    private readonly Lazy<DynamoDbGrainStorage> _first;
    private readonly Lazy<DynamoDbGrainStorage> _second;

    protected DynamoDbGrainStorageConformance(TFixture fixture)
    {
        Fixture = fixture;
        _first = new(() => NewProvider());
        _second = new(() => NewProvider());
    }

    protected TFixture Fixture { get; }

    protected override IGrainStorage CreateStorage() => _first.Value;

    protected override IGrainStorage CreateSecondStorage() => _second.Value;

    [Fact]
    public async Task Conflict_reports_stored_and_current_etag()
    {
        var (a, b) = (NewProvider(), NewProvider());
        var grainId = NewGrainId();
        var winner = new GrainState<ConformanceState>(ConformanceState.Sample(1, "one"));
        await a.WriteStateAsync("meta", grainId, winner);
        var stale = await ReadAsync(b, "meta", grainId);
        await a.WriteStateAsync("meta", grainId, winner);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => b.WriteStateAsync("meta", grainId, stale));

        Assert.Equal(winner.ETag, conflict.StoredEtag);
        Assert.Equal(stale.ETag, conflict.CurrentEtag);
        Assert.Contains($"stored ETag {winner.ETag}", conflict.Message, StringComparison.Ordinal);
        Assert.Contains($"current ETag {stale.ETag}", conflict.Message, StringComparison.Ordinal);
        Assert.Contains(grainId.ToString(), conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task State_item_holds_a_growing_version_and_a_clear_leaves_a_tombstone_with_it()
    {
        var services = NewContainer(Configured());
        var storage = services.GetRequiredKeyedService<IGrainStorage>(KblStorage.Name);
        var grainId = NewGrainId();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(7, "raw"));
        await storage.WriteStateAsync("meta", grainId, handle);
        await storage.WriteStateAsync("meta", grainId, handle);

        var item = await RawStateItemAsync(grainId, "meta");
        Assert.Equal(VersionOf(handle.ETag), long.Parse(item["version"].N, CultureInfo.InvariantCulture));
        if (item.TryGetValue("payload", out var payload))
        {
            // Small states are stored inline, in the Orleans binary format.
            var stored = services.GetRequiredService<Serializer>().Deserialize<ConformanceState>(payload.B.ToArray());
            Assert.NotNull(stored);
            Assert.Equal(7, stored.Counter);
            Assert.Equal("raw", stored.Text);
        }

        var versionBeforeClear = VersionOf(handle.ETag);
        await storage.ClearStateAsync("meta", grainId, handle);

        var tombstone = await RawStateItemAsync(grainId, "meta");
        Assert.True(tombstone["cleared"].BOOL);
        Assert.True(long.Parse(tombstone["version"].N, CultureInfo.InvariantCulture) > versionBeforeClear);
        Assert.False(tombstone.ContainsKey("payload"));
        Assert.False((await ReadAsync(storage, "meta", grainId)).RecordExists);

        handle.State = ConformanceState.Sample(8, "again");
        await storage.WriteStateAsync("meta", grainId, handle);
        Assert.True(VersionOf(handle.ETag) > long.Parse(tombstone["version"].N, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_state_over_the_item_limit_goes_to_chunks_and_superseded_chunks_are_deleted()
    {
        var options = Configured();
        var (first, second) = (NewProvider(), NewProvider());
        var grainId = NewGrainId();
        var size = options.InlinePayloadBytes + (2 * options.ChunkBytes) + 100;
        var state = new ConformanceState { Counter = 1, Text = new string('k', size) };
        var handle = new GrainState<ConformanceState>(state);

        await first.WriteStateAsync("big", grainId, handle);
        var firstChunks = await RawChunkKeysAsync(grainId);
        Assert.True(firstChunks.Count >= 3, $"expected at least 3 chunks, found {firstChunks.Count}");

        state.Counter = 2;
        await first.WriteStateAsync("big", grainId, handle);
        var secondChunks = await RawChunkKeysAsync(grainId);
        Assert.Equal(firstChunks.Count, secondChunks.Count);
        Assert.Empty(firstChunks.Intersect(secondChunks));
        var read = await ReadAsync(second, "big", grainId);
        Assert.Equal(handle.ETag, read.ETag);
        Assert.Equal(2, read.State?.Counter);
        Assert.Equal(size, read.State?.Text.Length);

        // A loser's chunks go too: a stale write fails and leaves only the winner's.
        read.State!.Counter = 3;
        state.Counter = 4;
        await first.WriteStateAsync("big", grainId, handle);
        var winnerChunks = await RawChunkKeysAsync(grainId);
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.WriteStateAsync("big", grainId, read));
        Assert.Equal(winnerChunks, await RawChunkKeysAsync(grainId));

        await first.ClearStateAsync("big", grainId, handle);
        Assert.Empty(await RawChunkKeysAsync(grainId));
    }

    [Fact]
    public async Task A_missing_table_without_CreateTable_fails_with_a_message_naming_table_and_setting()
    {
        var options = Configured();
        options.TableName = "kbl-missing-" + Guid.NewGuid().ToString("N")[..12];
        options.CreateTable = false;
        var storage = (DynamoDbGrainStorage)NewContainer(options).GetRequiredKeyedService<IGrainStorage>(KblStorage.Name);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync(storage, "meta", NewGrainId()));

        Assert.Contains($"table '{options.TableName}' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("Kbl:Storage:DynamoDb:CreateTable=true", error.Message, StringComparison.Ordinal);
        using var client = Fixture.NewClient();
        var tables = await client.ListTablesAsync(new ListTablesRequest());
        Assert.DoesNotContain(options.TableName, tables.TableNames ?? []);
    }

    public void Dispose()
    {
        foreach (var container in _containers)
        {
            container.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    /// <summary>Adjusts the provider's options beyond the fixture's (a subclass may force chunking).</summary>
    protected virtual void Configure(DynamoDbGrainStorageOptions options)
    {
    }

    private static long VersionOf(string? etag) =>
        long.Parse(etag!.Split('.')[0], CultureInfo.InvariantCulture);

    private DynamoDbGrainStorageOptions Configured()
    {
        var options = Fixture.Options();
        Configure(options);
        return options;
    }

    private DynamoDbGrainStorage NewProvider() =>
        (DynamoDbGrainStorage)NewContainer(Configured()).GetRequiredKeyedService<IGrainStorage>(KblStorage.Name);

    private ServiceProvider NewContainer(DynamoDbGrainStorageOptions options)
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSerializer()
            .AddDynamoDbGrainStorage(KblStorage.Name, o =>
            {
                o.ServiceUrl = options.ServiceUrl;
                o.Region = options.Region;
                o.TableName = options.TableName;
                o.CreateTable = options.CreateTable;
                o.InlinePayloadBytes = options.InlinePayloadBytes;
                o.ChunkBytes = options.ChunkBytes;
            })
            .BuildServiceProvider();
        _containers.Add(services);
        return services;
    }

    private async Task<Dictionary<string, AttributeValue>> RawStateItemAsync(GrainId grainId, string stateName)
    {
        using var client = Fixture.NewClient();
        var response = await client.GetItemAsync(new GetItemRequest
        {
            TableName = Fixture.TableName,
            Key = new()
            {
                ["grain"] = new() { S = grainId.ToString() },
                ["item"] = new() { S = "state/" + stateName },
            },
            ConsistentRead = true,
        });
        Assert.NotNull(response.Item);
        return response.Item;
    }

    private async Task<List<string>> RawChunkKeysAsync(GrainId grainId)
    {
        using var client = Fixture.NewClient();
        var keys = new List<string>();
        Dictionary<string, AttributeValue>? start = null;
        do
        {
            var page = await client.QueryAsync(new QueryRequest
            {
                TableName = Fixture.TableName,
                ConsistentRead = true,
                KeyConditionExpression = "#grain = :grain AND begins_with(#item, :chunk)",
                ExpressionAttributeNames = new() { ["#grain"] = "grain", ["#item"] = "item" },
                ExpressionAttributeValues = new()
                {
                    [":grain"] = new() { S = grainId.ToString() },
                    [":chunk"] = new() { S = "chunk/" },
                },
                ProjectionExpression = "#item",
                ExclusiveStartKey = start,
            });
            keys.AddRange((page.Items ?? []).Select(item => item["item"].S));
            start = page.LastEvaluatedKey is { Count: > 0 } last ? last : null;
        }
        while (start is not null);

        return keys;
    }
}
