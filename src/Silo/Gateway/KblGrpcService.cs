using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Kbl.Api.V1;
using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Silo.Gateway;

/// <summary>The gRPC surface (<c>protos/kbl.proto</c>), on its own HTTP/2 port; the same operations as the HTTP API.</summary>
public sealed class KblGrpcService(ColonyGateway gateway) : ColonyService.ColonyServiceBase
{
    public override Task<ColonyReply> PutColony(PutColonyRequest request, ServerCallContext context) => Guard(async () =>
    {
        var (genome, _) = await gateway.PutColony(request.Colony, Encoding.UTF8.GetBytes(request.GenomeJson));
        return new ColonyReply { Colony = request.Colony, GenomeJson = GenomeJson.ToJson(genome) };
    });

    public override Task<ColonyReply> GetColony(GetColonyRequest request, ServerCallContext context) => Guard(async () =>
        new ColonyReply { Colony = request.Colony, GenomeJson = GenomeJson.ToJson(await gateway.GetColony(request.Colony)) });

    public override Task<ListColoniesReply> ListColonies(ListColoniesRequest request, ServerCallContext context) => Guard(async () =>
    {
        var reply = new ListColoniesReply();
        reply.Colonies.AddRange(await gateway.ListColonies());
        reply.Deleting.AddRange(await gateway.ListDeletingColonies());
        return reply;
    });

    public override Task<DeleteColonyReply> DeleteColony(DeleteColonyRequest request, ServerCallContext context) => Guard(async () =>
    {
        var deletion = await gateway.DeleteColony(request.Colony);
        return new DeleteColonyReply { Deleted = deletion.Status == ColonyDeletionStatus.Deleted, Message = deletion.Message ?? "" };
    });

    public override Task<PutReply> Put(PutRequest request, ServerCallContext context) => Guard(async () =>
        new PutReply { Version = await gateway.Put(request.Colony, ColonyGateway.Key(request.Key), request.Value.ToByteArray(), Condition(request.Condition)) });

    public override Task<GetReply> Get(GetRequest request, ServerCallContext context) => Guard(async () =>
    {
        var record = await gateway.Get(request.Colony, ColonyGateway.Key(request.Key));
        return new GetReply { Value = ByteString.CopyFrom(record.Value), Version = record.Version };
    });

    public override Task<DeleteReply> Delete(DeleteRequest request, ServerCallContext context) => Guard(async () =>
        new DeleteReply { Version = await gateway.Delete(request.Colony, ColonyGateway.Key(request.Key), Condition(request.Condition)) });

    public override Task PutMany(IAsyncStreamReader<PutManyRequest> requestStream, IServerStreamWriter<PutManyReply> responseStream, ServerCallContext context) => Guard(async () =>
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            var writes = request.Writes.Select((w, i) => Write(w, $"writes[{i}]")).ToList();
            var reply = new PutManyReply();
            reply.Results.AddRange((await gateway.WriteMany(request.Colony, writes)).Select(item => new WriteOutcome
            {
                Code = (int)Code(item.Error),
                Version = item.Version,
                Message = item.Message ?? "",
                OutcomeUnknown = item.Error == ApiError.OutcomeUnknown,
            }));
            await responseStream.WriteAsync(reply, context.CancellationToken);
        }

        return true;
    });

    public override Task GetMany(IAsyncStreamReader<GetManyRequest> requestStream, IServerStreamWriter<GetManyReply> responseStream, ServerCallContext context) => Guard(async () =>
    {
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            var reply = new GetManyReply();
            reply.Results.AddRange((await gateway.GetMany(request.Colony, [.. request.Keys.Select((k, i) => ColonyGateway.Key(k, $"keys[{i}]"))])).Select(item => new ReadOutcome
            {
                Code = (int)Code(item.Error),
                Value = item.Value is null ? ByteString.Empty : ByteString.CopyFrom(item.Value),
                Version = item.Version,
                Message = item.Message ?? "",
            }));
            await responseStream.WriteAsync(reply, context.CancellationToken);
        }

        return true;
    });

    public override Task Scan(ScanRequest request, IServerStreamWriter<Api.V1.Record> responseStream, ServerCallContext context) => Guard(async () =>
    {
        var max = gateway.Options.MaxScanStream;
        if (request.Limit < 0 || request.Limit > max)
        {
            throw new ApiException(ApiError.BadRequest, $"limit {request.Limit} must be from 1 to {max} (Kbl:Gateway:MaxScanStream), or 0 for {max}; continue a longer scan with 'after'");
        }

        if (request.From.Length > 0 && request.After.Length > 0)
        {
            throw new ApiException(ApiError.BadRequest, "set 'from' or 'after', not both");
        }

        var (from, exclusive) = request.After.Length > 0 ? (ColonyGateway.Key(request.After), true) : (request.From.Length == 0 ? [] : ColonyGateway.Key(request.From), false);
        var to = request.To.Length == 0 ? null : ColonyGateway.Key(request.To);
        var limit = request.Limit == 0 ? max : request.Limit;
        await foreach (var record in gateway.Scan(request.Colony, from, exclusive, to, limit, context.CancellationToken))
        {
            await responseStream.WriteAsync(
                new Api.V1.Record
                {
                    Key = KeyOrder.Display(record.Key),
                    Value = ByteString.CopyFrom(record.Value),
                    Version = record.Version,
                },
                context.CancellationToken);
        }

        return true;
    });

    public override Task<AggregateReply> Aggregate(AggregateRequest request, ServerCallContext context) => Guard(async () =>
    {
        var op = ColonyGateway.ParseOp(request.Op);
        var query = new AggregateQuery(
            request.From.Length == 0 ? [] : ColonyGateway.Key(request.From),
            request.To.Length == 0 ? null : ColonyGateway.Key(request.To),
            op,
            request.Field.Length == 0 ? null : request.Field);
        var partial = await gateway.Aggregate(request.Colony, query, context.CancellationToken);
        var reply = new AggregateReply
        {
            Op = request.Op,
            Records = partial.Records,
            Numeric = partial.Numeric,
            Skipped = partial.Skipped,
            Leaves = partial.Leaves,
        };
        if (partial.Result(op) is { } value)
        {
            reply.Value = value;
        }

        return reply;
    });

    public override Task<TreeReply> GetTree(GetTreeRequest request, ServerCallContext context) => Guard(async () =>
    {
        var view = await gateway.Tree(request.Colony, request.HasDepth ? request.Depth : int.MaxValue, request.HotPath);
        return new TreeReply { Json = JsonSerializer.Serialize(request.Flat ? ApiJson.FlatTree(view) : ApiJson.Tree(view), ApiJson.TreeOptions) };
    });

    private static Precondition Condition(Condition? condition) =>
        condition is null ? Precondition.None : new Precondition(condition.HasIfMatch ? condition.IfMatch : null, condition.IfNoneMatch, condition.IfExists);

    /// <summary>One write of a <c>PutMany</c> batch, checked: its key, and a value unless it is a delete (not both).</summary>
    private static RecordWrite Write(BatchWrite write, string at)
    {
        var key = ColonyGateway.Key(write.Key, at);
        return write.Delete && !write.Value.IsEmpty
            ? throw new ApiException(ApiError.BadRequest, $"{at} ('{write.Key}') is a delete with a value; send one or the other")
            : new RecordWrite(key, write.Delete ? null : write.Value.ToByteArray(), Condition(write.Condition));
    }

    /// <summary>The gRPC status code of an API outcome (null: OK).</summary>
    private static StatusCode Code(ApiError? error) => error switch
    {
        null => StatusCode.OK,
        ApiError.NotFound => StatusCode.NotFound,
        ApiError.PreconditionFailed or ApiError.Conflict => StatusCode.FailedPrecondition,
        ApiError.Unavailable or ApiError.OutcomeUnknown => StatusCode.Unavailable,
        ApiError.TooLarge or ApiError.TooManyRequests => StatusCode.ResourceExhausted,
        _ => StatusCode.InvalidArgument,
    };

    private static async Task<T> Guard<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (ApiException e)
        {
            throw new RpcException(new Status(Code(e.Kind), e.Message));
        }
        catch (Exception e) when (ColonyGateway.Unavailable(e) is { } message)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, message));
        }
    }
}
