using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.LoadGen;

/// <summary>The gRPC API (<c>protos/kbl.proto</c>) over one <see cref="GrpcChannel"/> (plaintext HTTP/2).</summary>
internal sealed class GrpcRecordClient : IRecordClient
{
    private readonly GrpcChannel _channel;
    private readonly ColonyService.ColonyServiceClient _client;
    private readonly string _colony;
    private readonly string[] _keys;
    private readonly ByteString _value;
    private readonly TimeSpan _timeout;
    private readonly Uri _address;
    private readonly Metadata? _headers;

    public GrpcRecordClient(LoadOptions options, string[] keys)
    {
        _channel = GrpcChannel.ForAddress(options.Grpc, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                // More than 100 workers outgrow one connection's stream limit: let the channel open another.
                EnableMultipleHttp2Connections = true,
                PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
                UseProxy = false,
            },
            MaxReceiveMessageSize = 2 * 1024 * 1024,
        });
        _client = new ColonyService.ColonyServiceClient(_channel);
        _colony = options.Colony;
        _keys = keys;
        _value = UnsafeByteOperations.UnsafeWrap(KeySpace.Value(options.ValueSize));
        _timeout = TimeSpan.FromSeconds(options.TimeoutSeconds);
        _address = options.Grpc;
        _headers = options.Token is { } token ? new Metadata { { "authorization", "Bearer " + token } } : null;
    }

    public string Address => _address.AbsoluteUri;

    public async Task EnsureColony(string colony, string? genomeJson, CancellationToken cancellationToken)
    {
        try
        {
            if (genomeJson is null)
            {
                try
                {
                    await _client.GetColonyAsync(new GetColonyRequest { Colony = colony }, headers: _headers, deadline: Deadline(), cancellationToken: cancellationToken);
                    return;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
                {
                    // created below
                }
            }

            await _client.PutColonyAsync(new PutColonyRequest { Colony = colony, GenomeJson = genomeJson ?? "{}" }, headers: _headers, deadline: Deadline(), cancellationToken: cancellationToken);
        }
        catch (RpcException e)
        {
            throw new LoadGenException($"gRPC {_address.AbsoluteUri}: colony '{colony}' could not be made ready: {e.StatusCode} {e.Status.Detail}", e);
        }
    }

    public async Task<OpError?> Put(int[] keys, CancellationToken cancellationToken)
    {
        try
        {
            if (keys.Length == 1)
            {
                await _client.PutAsync(new PutRequest { Colony = _colony, Key = _keys[keys[0]], Value = _value }, headers: _headers, deadline: Deadline(), cancellationToken: cancellationToken);
                return null;
            }

            var batch = new PutManyRequest { Colony = _colony };
            batch.Writes.AddRange(keys.Select(k => new BatchWrite { Key = _keys[k], Value = _value }));
            using var call = _client.PutMany(headers: _headers, deadline: Deadline(), cancellationToken: cancellationToken);
            return await OneBatch(call, batch, reply => reply.Results.Select(r => (r.Code, r.Message)), cancellationToken);
        }
        catch (RpcException e)
        {
            return new OpError($"gRPC {e.StatusCode}", e.Status.Detail);
        }
    }

    public async Task<OpError?> Get(int[] keys, CancellationToken cancellationToken)
    {
        try
        {
            if (keys.Length == 1)
            {
                await _client.GetAsync(new GetRequest { Colony = _colony, Key = _keys[keys[0]] }, headers: _headers, deadline: Deadline(), cancellationToken: cancellationToken);
                return null;
            }

            var batch = new GetManyRequest { Colony = _colony };
            batch.Keys.AddRange(keys.Select(k => _keys[k]));
            using var call = _client.GetMany(headers: _headers, deadline: Deadline(), cancellationToken: cancellationToken);
            return await OneBatch(call, batch, reply => reply.Results.Select(r => (r.Code, r.Message)), cancellationToken);
        }
        catch (RpcException e)
        {
            return new OpError($"gRPC {e.StatusCode}", e.Status.Detail);
        }
    }

    public void Dispose() => _channel.Dispose();

    /// <summary>
    /// One batch on its own stream: sends it, ends the stream, reads the one reply; the first record that failed is
    /// the error of the whole request (null when none did).
    /// </summary>
    private static async Task<OpError?> OneBatch<TRequest, TReply>(
        AsyncDuplexStreamingCall<TRequest, TReply> call, TRequest batch, Func<TReply, IEnumerable<(int Code, string Message)>> outcomes, CancellationToken cancellationToken)
    {
        await call.RequestStream.WriteAsync(batch, cancellationToken);
        await call.RequestStream.CompleteAsync();
        if (!await call.ResponseStream.MoveNext(cancellationToken))
        {
            return new OpError("gRPC batch", "the stream ended without a reply");
        }

        return outcomes(call.ResponseStream.Current).FirstOrDefault(o => o.Code != 0) is { Message: not null } failed
            ? new OpError($"gRPC batch record {(StatusCode)failed.Code}", failed.Message)
            : null;
    }

    private DateTime Deadline() => DateTime.UtcNow + _timeout;
}
