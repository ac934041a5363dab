using Grpc.Core;
using Grpc.Core.Interceptors;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>With <c>Kbl:Auth:Token</c> set, every gRPC call needs <c>authorization: Bearer &lt;token&gt;</c> metadata.</summary>
public sealed class BearerTokenInterceptor(KblAuthOptions auth) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (auth.Token.Length > 0 && !BearerToken.Accepts(auth, BearerToken.FromHeader(context.RequestHeaders.GetValue("authorization"))))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this Kbl cluster needs a bearer token: authorization: Bearer <Kbl:Auth:Token>"));
        }
    }
}
