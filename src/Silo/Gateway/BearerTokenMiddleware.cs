using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authorization;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>
/// The one door of the gateway. With <c>Kbl:Auth:Token</c> set, every request needs the token — HTTP, gRPC, the
/// dashboard, <c>/ui</c>, requests that match no route — except the endpoints mapped with <c>AllowAnonymous()</c>
/// (<c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c>). What is open is decided by the endpoint routing matched, never
/// by what the client says about itself (a content type, a method, a header).
/// The token comes as <c>Authorization: Bearer …</c> (gRPC: the same metadata) or as the HttpOnly cookie a browser
/// page got when it was opened as <c>/ui?token=…</c> or <c>/dashboard?token=…</c>; <c>?token=</c> counts only on
/// those pages (<see cref="BrowserEntry"/>).
/// </summary>
public sealed class BearerTokenMiddleware(RequestDelegate next, KblAuthOptions auth)
{
    private const string Refusal = "this Kbl cluster needs a bearer token: Authorization: Bearer <Kbl:Auth:Token>";

    public Task InvokeAsync(HttpContext http)
    {
        if (auth.Token.Length == 0)
        {
            return next(http);
        }

        var endpoint = http.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<IAllowAnonymous>() is not null ||
            BearerToken.Accepts(auth, BearerToken.FromHeader(http.Request.Headers.Authorization)) ||
            BearerToken.Accepts(auth, http.Request.Cookies[BearerToken.Cookie]))
        {
            return next(http);
        }

        if (endpoint?.Metadata.GetMetadata<BrowserEntry>() is not null &&
            http.Request.Query.TryGetValue("token", out var query) && BearerToken.Accepts(auth, query.ToString()))
        {
            http.Response.Cookies.Append(BearerToken.Cookie, query.ToString(), new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
            return next(http);
        }

        return Refuse(http, endpoint);
    }

    private static Task Refuse(HttpContext http, Endpoint? endpoint)
    {
        // A gRPC call to a gRPC method learns its status from a trailers-only response (HTTP/2 200, grpc-status in
        // the headers); everything else gets a plain 401.
        if (endpoint?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null && HttpProtocol.IsHttp2(http.Request.Protocol) &&
            http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/grpc";
            http.Response.Headers["grpc-status"] = "16"; // UNAUTHENTICATED
            http.Response.Headers["grpc-message"] = Uri.EscapeDataString(Refusal);
            return Task.CompletedTask;
        }

        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return http.Response.WriteAsJsonAsync(new { error = Refusal });
    }
}

/// <summary>Marks a page a browser opens by address (<c>/ui</c>, <c>/dashboard</c>): only there may <c>?token=</c> carry the token.</summary>
public sealed class BrowserEntry
{
    public static readonly BrowserEntry Instance = new();
}
