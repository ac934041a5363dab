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

    public void Dispose() => _channel.Dispose();
}
