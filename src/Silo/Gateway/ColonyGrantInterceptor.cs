using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>
/// The second half of the door for gRPC: a gRPC request names its colony inside its message, which
/// <see cref="BearerTokenMiddleware"/> cannot see, so this checks the caller's rights (the ones the middleware
/// established) against that colony with the same rules (<see cref="GatewayAccess.ForGrpc"/>,
/// <see cref="CallerRights"/>) before the service runs. A request without a <c>colony</c> field needs the right on
/// every colony. PERMISSION_DENIED otherwise; a call the middleware did not establish rights for is refused too.
/// </summary>
public sealed class ColonyGrantInterceptor(KblAuthOptions auth) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(request, context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(request, context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        continuation(Checked(requestStream, context), context);

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        continuation(Checked(requestStream, context), responseStream, context);

    /// <summary>
    /// A request stream whose every message is checked against the colony it names before the service sees it (a
    /// stream's messages may name different colonies); with no credentials required, the stream as it is.
    /// </summary>
    private IAsyncStreamReader<TRequest> Checked<TRequest>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context) =>
        auth.Required ? new CheckedStream<TRequest>(requestStream, message => Check(message, context)) : requestStream;

    private sealed class CheckedStream<TRequest>(IAsyncStreamReader<TRequest> inner, Action<TRequest> check) : IAsyncStreamReader<TRequest>
    {
        public TRequest Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await inner.MoveNext(cancellationToken))
            {
                return false;
            }

            check(inner.Current);
            return true;
        }
    }

    private void Check<TRequest>(TRequest? request, ServerCallContext context)
    {
        if (!auth.Required)
        {
            return;
        }

        var rights = context.GetHttpContext().Features.Get<CallerRights>() ??
            throw new RpcException(new Status(StatusCode.PermissionDenied, "no credentials were checked for this call"));
        if (rights.Expires is { } expires && expires + auth.Jwt.ClockSkew <= DateTimeOffset.UtcNow)
        {
            // A stream outlives the check at its start: its token may expire while it runs (with the clock skew the
            // token's validation allows, so a call is never refused here that validation took).
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"{rights.Who} expired at {expires:u}; open a new call with a fresh one"));
        }

        var need = GatewayAccess.ForGrpc(context.Method[(context.Method.LastIndexOf('/') + 1)..]);
        var colony = need.Scope == AccessScope.ColonyInMessage ? Colony(request) : null;
        var right = need.Scope == AccessScope.Cluster ? GatewayRight.Admin : need.Right;
        if (!rights.May(right, colony))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, rights.Refusal(right, colony, auth.Jwt.GrantsClaim)));
        }
    }

    /// <summary>The <c>colony</c> field of a request message, or null when it has none (or leaves it empty).</summary>
    private static string? Colony(object? request) =>
        request is IMessage message && message.Descriptor.FindFieldByName("colony")?.Accessor.GetValue(message) is string { Length: > 0 } colony ? colony : null;
}
