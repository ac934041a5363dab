using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.Tests.Process;

/// <summary>The gRPC API of a real silo process, on its own HTTP/2 port.</summary>
[Collection(SiloProcessCollection.Name)]
[Trait("Category", Category.Process)]
public sealed class GrpcApiTests(SiloProcessFixture fixture) : IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);

    private ColonyService.ColonyServiceClient Client => new(_channel);

    [Fact]
    public async Task Records_put_get_scan_aggregate_and_delete_over_grpc()
    {
        await Client.PutColonyAsync(new PutColonyRequest { Colony = "grpc", GenomeJson = "{\"splitKeys\":30,\"mergeKeys\":3}" });
        var versions = new Dictionary<string, long>();
        for (var i = 0; i < 100; i++)
        {
            var key = $"g{i * 13 % 100:d3}";
            var reply = await Client.PutAsync(new PutRequest { Colony = "grpc", Key = key, Value = ByteString.CopyFromUtf8($"{{\"x\":{i}}}") });
            versions[key] = reply.Version;
        }

        var got = await Client.GetAsync(new GetRequest { Colony = "grpc", Key = "g013" });
        Assert.Equal("{\"x\":1}", got.Value.ToStringUtf8());
        Assert.Equal(versions["g013"], got.Version);

        using var scan = Client.Scan(new ScanRequest { Colony = "grpc", From = "g010", To = "g090" });
        var keys = new List<string>();
        await foreach (var record in scan.ResponseStream.ReadAllAsync())
        {
            keys.Add(record.Key);
            Assert.Equal(versions[record.Key], record.Version);
        }

        Assert.Equal(Enumerable.Range(10, 80).Select(i => $"g{i:d3}"), keys);

        var count = await Client.AggregateAsync(new AggregateRequest { Colony = "grpc", Op = "count" });
        Assert.Equal(100, count.Value);
        var max = await Client.AggregateAsync(new AggregateRequest { Colony = "grpc", Op = "max", Field = "x" });
        Assert.Equal(99, max.Value);
        Assert.True(max.Leaves > 1);

        using var tree = JsonDocument.Parse((await Client.GetTreeAsync(new GetTreeRequest { Colony = "grpc" })).Json);
        Assert.Equal(100, tree.RootElement.GetProperty("feedback").GetProperty("keys").GetInt64());

        await Client.DeleteAsync(new DeleteRequest { Colony = "grpc", Key = "g013", Condition = new Condition { IfMatch = versions["g013"] } });
        var missing = await Assert.ThrowsAsync<RpcException>(() => Client.GetAsync(new GetRequest { Colony = "grpc", Key = "g013" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Errors_carry_a_status_and_a_message()
    {
        await Client.PutColonyAsync(new PutColonyRequest { Colony = "grpc-errors" });
        await Client.PutAsync(new PutRequest { Colony = "grpc-errors", Key = "k", Value = ByteString.CopyFromUtf8("v") });

        async Task<RpcException> Fails(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);

        var conflict = await Fails(() => Client.PutAsync(new PutRequest { Colony = "grpc-errors", Key = "k", Value = ByteString.Empty, Condition = new Condition { IfNoneMatch = true } }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, conflict.StatusCode);
        var badColony = await Fails(() => Client.GetAsync(new GetRequest { Colony = "Nope!", Key = "k" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badColony.StatusCode);
        Assert.Contains("colony name", badColony.Status.Detail, StringComparison.Ordinal);
        var emptyKey = await Fails(() => Client.GetAsync(new GetRequest { Colony = "grpc-errors", Key = "" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, emptyKey.StatusCode);
        var noColony = await Fails(() => Client.PutAsync(new PutRequest { Colony = "grpc-none", Key = "k" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, noColony.StatusCode);
        var badGenome = await Fails(() => Client.PutColonyAsync(new PutColonyRequest { Colony = "grpc-errors", GenomeJson = "{\"fanOut\":0}" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badGenome.StatusCode);
        Assert.Contains("fanOut", badGenome.Status.Detail, StringComparison.Ordinal);
        var tooBig = await Fails(() => Client.PutAsync(new PutRequest { Colony = "grpc-errors", Key = "big", Value = ByteString.CopyFrom(new byte[65537]) }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, tooBig.StatusCode);
        var badOp = await Fails(() => Client.AggregateAsync(new AggregateRequest { Colony = "grpc-errors", Op = "median" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badOp.StatusCode);

        Assert.Equal("v", (await Client.GetAsync(new GetRequest { Colony = "grpc-errors", Key = "k" })).Value.ToStringUtf8());
    }

    [Fact]
    public async Task A_condition_that_the_record_exists_is_the_If_Match_star_of_grpc()
    {
        await Client.PutColonyAsync(new PutColonyRequest { Colony = "grpc-exists" });
        var exists = new Condition { IfExists = true };

        var absent = await Assert.ThrowsAsync<RpcException>(() =>
            Client.PutAsync(new PutRequest { Colony = "grpc-exists", Key = "k", Value = ByteString.CopyFromUtf8("v1"), Condition = exists }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, absent.StatusCode);
        Assert.Contains("does not exist", absent.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => Client.GetAsync(new GetRequest { Colony = "grpc-exists", Key = "k" }).ResponseAsync)).StatusCode);

        var created = await Client.PutAsync(new PutRequest { Colony = "grpc-exists", Key = "k", Value = ByteString.CopyFromUtf8("v1") });
        var replaced = await Client.PutAsync(new PutRequest { Colony = "grpc-exists", Key = "k", Value = ByteString.CopyFromUtf8("v2"), Condition = exists });
        Assert.True(replaced.Version > created.Version);
        Assert.Equal("v2", (await Client.GetAsync(new GetRequest { Colony = "grpc-exists", Key = "k" })).Value.ToStringUtf8());

        await Client.DeleteAsync(new DeleteRequest { Colony = "grpc-exists", Key = "k", Condition = exists });
        var gone = await Assert.ThrowsAsync<RpcException>(() =>
            Client.DeleteAsync(new DeleteRequest { Colony = "grpc-exists", Key = "k", Condition = exists }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, gone.StatusCode);
    }

    [Fact]
    public async Task A_scan_streams_at_most_its_limit_and_continues_after_the_last_key()
    {
        await Client.PutColonyAsync(new PutColonyRequest { Colony = "grpc-limit", GenomeJson = "{\"splitKeys\":60,\"mergeKeys\":3}" });
        var keys = Enumerable.Range(0, 250).Select(i => $"r{i:d3}").ToList();
        foreach (var key in keys)
        {
            await Client.PutAsync(new PutRequest { Colony = "grpc-limit", Key = key, Value = ByteString.CopyFromUtf8(key) });
        }

        async Task<List<string>> Scan(ScanRequest request)
        {
            using var call = Client.Scan(request);
            return await call.ResponseStream.ReadAllAsync().Select(r => r.Key).ToListAsync();
        }

        // limit 0 asks for the server's maximum (this silo's Kbl:Gateway:MaxScanStream is 200); 'after' continues.
        var first = await Scan(new ScanRequest { Colony = "grpc-limit" });
        Assert.Equal(keys.Take(200), first);
        var rest = await Scan(new ScanRequest { Colony = "grpc-limit", After = first[^1] });
        Assert.Equal(keys.Skip(200), rest);
        Assert.Equal(keys.Skip(10).Take(5), await Scan(new ScanRequest { Colony = "grpc-limit", After = "r009", Limit = 5 }));

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => Scan(new ScanRequest { Colony = "grpc-limit", Limit = 201 }));
        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);
        Assert.Contains("200", tooMany.Status.Detail, StringComparison.Ordinal);
        var both = await Assert.ThrowsAsync<RpcException>(() => Scan(new ScanRequest { Colony = "grpc-limit", From = "r001", After = "r002" }));
        Assert.Equal(StatusCode.InvalidArgument, both.StatusCode);
    }

    [Fact]
    public async Task Batches_stream_both_ways_with_one_reply_per_batch_and_one_outcome_per_record()
    {
        await Client.PutColonyAsync(new PutColonyRequest { Colony = "grpc-batch", GenomeJson = "{\"splitKeys\":60,\"mergeKeys\":3}" });
        using (var puts = Client.PutMany())
        {
            for (var batch = 0; batch < 3; batch++)
            {
                var request = new PutManyRequest { Colony = "grpc-batch" };
                request.Writes.AddRange(Enumerable.Range(batch * 100, 100).Select(i => new BatchWrite { Key = $"m{i:d3}", Value = ByteString.CopyFromUtf8($"v{i}") }));
                await puts.RequestStream.WriteAsync(request);
                Assert.True(await puts.ResponseStream.MoveNext());
                Assert.Equal(100, puts.ResponseStream.Current.Results.Count);
                Assert.All(puts.ResponseStream.Current.Results, r => Assert.Equal((0, true), (r.Code, r.Version > 0)));
            }

            var mixed = new PutManyRequest { Colony = "grpc-batch" };
            mixed.Writes.Add(new BatchWrite { Key = "m000", Delete = true });
            mixed.Writes.Add(new BatchWrite { Key = "m001", Value = ByteString.CopyFromUtf8("x"), Condition = new Condition { IfNoneMatch = true } });
            await puts.RequestStream.WriteAsync(mixed);
            await puts.RequestStream.CompleteAsync();
            Assert.True(await puts.ResponseStream.MoveNext());
            Assert.Equal([(int)StatusCode.OK, (int)StatusCode.FailedPrecondition], puts.ResponseStream.Current.Results.Select(r => r.Code));
            Assert.False(await puts.ResponseStream.MoveNext());
        }

        using var gets = Client.GetMany();
        await gets.RequestStream.WriteAsync(new GetManyRequest { Colony = "grpc-batch", Keys = { "m000", "m001", "m299", "nothing" } });
        await gets.RequestStream.CompleteAsync();
        Assert.True(await gets.ResponseStream.MoveNext());
        var read = gets.ResponseStream.Current.Results;
        Assert.Equal([(int)StatusCode.NotFound, (int)StatusCode.OK, (int)StatusCode.OK, (int)StatusCode.NotFound], read.Select(r => r.Code));
        Assert.Equal(("v1", "v299"), (read[1].Value.ToStringUtf8(), read[2].Value.ToStringUtf8()));

        // A stream carries more than any one request body may (Kestrel's limit is sized for one value): 2 MB here.
        using (var longStream = Client.PutMany())
        {
            for (var batch = 0; batch < 4; batch++)
            {
                var request = new PutManyRequest { Colony = "grpc-batch" };
                request.Writes.AddRange(Enumerable.Range(0, 500).Select(i => new BatchWrite { Key = $"l{batch}-{i:d3}", Value = ByteString.CopyFrom(new byte[1000]) }));
                await longStream.RequestStream.WriteAsync(request);
                Assert.True(await longStream.ResponseStream.MoveNext());
                Assert.All(longStream.ResponseStream.Current.Results, r => Assert.Equal(0, r.Code));
            }

            await longStream.RequestStream.CompleteAsync();
        }

        // A bad batch fails the call, names the record, and writes nothing of it.
        using var bad = Client.PutMany();
        await bad.RequestStream.WriteAsync(new PutManyRequest { Colony = "grpc-batch", Writes = { new BatchWrite { Key = "fine", Value = ByteString.CopyFromUtf8("1") }, new BatchWrite { Key = "" } } });
        var refused = await Assert.ThrowsAsync<RpcException>(async () => await bad.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("writes[1]: the key is empty", refused.Status.Detail, StringComparison.Ordinal);
        using var deleteWithValue = Client.PutMany();
        await deleteWithValue.RequestStream.WriteAsync(new PutManyRequest { Colony = "grpc-batch", Writes = { new BatchWrite { Key = "fine", Value = ByteString.CopyFromUtf8("1"), Delete = true } } });
        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(async () => await deleteWithValue.ResponseStream.MoveNext())).StatusCode);
        var fine = await Assert.ThrowsAsync<RpcException>(() => Client.GetAsync(new GetRequest { Colony = "grpc-batch", Key = "fine" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, fine.StatusCode);
    }

    public void Dispose() => _channel.Dispose();
}
