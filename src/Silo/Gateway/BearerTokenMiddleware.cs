using Grpc.AspNetCore.Server;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>
/// The one door of the gateway. With credentials configured (<c>Kbl:Auth:Token</c>, <c>Kbl:Auth:Jwt</c>) every
/// request needs them — HTTP, gRPC, the dashboard, <c>/ui</c>, requests that match no route — except the endpoints
/// mapped with <c>AllowAnonymous()</c> (<c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c>). What a request needs is
/// decided by the endpoint routing matched (<see cref="GatewayAccess"/>), never by what the client says about itself
/// (a content type, a method, a header). No valid credential: 401 (gRPC: UNAUTHENTICATED). A valid one without the
/// right: 403 (gRPC: PERMISSION_DENIED). The static token may do everything; a JWT what its grants say
/// (<see cref="CallerRights"/>). A gRPC request names its colony inside its message, where the middleware cannot
/// look: it hands the caller's rights on, and <see cref="ColonyGrantInterceptor"/> checks them against that colony.
/// The credential comes as <c>Authorization: Bearer …</c> (gRPC: the same metadata) or as the HttpOnly cookie a
/// browser page got when it was opened as <c>/ui?token=…</c> or <c>/dashboard?token=…</c>; <c>?token=</c> counts
/// only on those pages (<see cref="BrowserEntry"/>).
/// </summary>
public sealed class BearerTokenMiddleware(RequestDelegate next, KblAuthOptions auth)
{
    private const string Refusal = "this Kbl cluster needs a bearer token: Authorization: Bearer <Kbl:Auth:Token>";
    private const string JwtRefusal = "this Kbl cluster needs a bearer token: Authorization: Bearer <Kbl:Auth:Token or a JWT of its identity provider>";

    public async Task InvokeAsync(HttpContext http)
    {
        if (!auth.Required)
        {
            await next(http);
            return;
        }

        var need = GatewayAccess.Need(http);
        if (need.Scope == AccessScope.Open)
        {
            await next(http);
            return;
        }

        var presented = BearerToken.Presented(http);
        CallerRights? rights = null;
        var why = "";
        if (presented is { Token.Length: > 0 } credential)
        {
            if (BearerToken.Accepts(auth, credential.Token))
            {
                rights = CallerRights.Everything;
            }
            else if (auth.Jwt.Enabled)
            {
                var result = await JwtCredentials.Authenticate(http);
                if (result.Succeeded)
                {
                    rights = CallerRights.FromClaims(result.Principal, auth.Jwt.GrantsClaim);
                }
                else if (!result.None)
                {
                    why = $"; the token presented was refused: {JwtCredentials.Reason(result.Failure)}";
                }
            }
        }

        if (rights is null)
        {
            await Refuse(http, StatusCodes.Status401Unauthorized, (auth.Jwt.Enabled ? JwtRefusal : Refusal) + why);
            return;
        }

        if (Forbidden(rights, need) is { } forbidden)
        {
            await Refuse(http, StatusCodes.Status403Forbidden, forbidden);
            return;
        }

        http.Features.Set(rights);
        if (presented!.Value.FromQuery)
        {
            http.Response.Cookies.Append(BearerToken.Cookie, presented.Value.Token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
        }

        await next(http);
    }

    /// <summary>Why <paramref name="rights"/> do not meet <paramref name="need"/>, or null when they do.</summary>
    private string? Forbidden(CallerRights rights, AccessNeed need) => need.Scope switch
    {
        AccessScope.Colony when !rights.May(need.Right, need.Colony) => rights.Refusal(need.Right, need.Colony, auth.Jwt.GrantsClaim),
        AccessScope.EveryColony when !rights.May(need.Right, null) => rights.Refusal(need.Right, null, auth.Jwt.GrantsClaim),
        AccessScope.Cluster when !rights.May(GatewayRight.Admin, null) => rights.Refusal(GatewayRight.Admin, null, auth.Jwt.GrantsClaim),
        _ => null,
    };

    private static Task Refuse(HttpContext http, int status, string message)
    {
        // A gRPC call to a gRPC method learns its status from a trailers-only response (HTTP/2 200, grpc-status in
        // the headers); everything else gets a plain 401 or 403.
        if (http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null && HttpProtocol.IsHttp2(http.Request.Protocol) &&
            http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
        {
            http.Response.StatusCode = StatusCodes.Status200OK;
            http.Response.ContentType = "application/grpc";
            http.Response.Headers["grpc-status"] = status == StatusCodes.Status401Unauthorized ? "16" : "7"; // UNAUTHENTICATED, PERMISSION_DENIED
            http.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
            return Task.CompletedTask;
        }

        http.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return http.Response.WriteAsJsonAsync(new { error = message });
    }
}

/// <summary>Marks a page a browser opens by address (<c>/ui</c>, <c>/dashboard</c>): only there may <c>?token=</c> carry the token.</summary>
public sealed class BrowserEntry
{
    public static readonly BrowserEntry Instance = new();
}
