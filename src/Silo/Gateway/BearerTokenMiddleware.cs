using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>
/// With <c>Kbl:Auth:Token</c> set, every HTTP request but <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c>
/// needs <c>Authorization: Bearer &lt;token&gt;</c>. Browsers open <c>/ui?token=…</c> or <c>/dashboard?token=…</c>
/// once; that sets an HttpOnly cookie the pages' own requests carry. gRPC calls are checked by
/// <see cref="BearerTokenInterceptor"/>.
/// </summary>
public sealed class BearerTokenMiddleware(RequestDelegate next, KblAuthOptions auth)
{
    private static readonly string[] Open = ["/healthz", "/readyz", "/metrics"];

    public Task InvokeAsync(HttpContext http)
    {
        if (auth.Token.Length == 0 || Open.Contains(http.Request.Path.Value, StringComparer.Ordinal) ||
            http.Request.ContentType?.StartsWith("application/grpc", StringComparison.Ordinal) == true)
        {
            return next(http);
        }

        if (BearerToken.Accepts(auth, BearerToken.FromHeader(http.Request.Headers.Authorization)) ||
            BearerToken.Accepts(auth, http.Request.Cookies[BearerToken.Cookie]))
        {
            return next(http);
        }

        if (http.Request.Query.TryGetValue("token", out var query) && BearerToken.Accepts(auth, query.ToString()))
        {
            http.Response.Cookies.Append(BearerToken.Cookie, query.ToString(), new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict });
            return next(http);
        }

        http.Response.StatusCode = StatusCodes.Status401Unauthorized;
        http.Response.Headers.WWWAuthenticate = "Bearer";
        return http.Response.WriteAsJsonAsync(new { error = "this Kbl cluster needs a bearer token: Authorization: Bearer <Kbl:Auth:Token>" });
    }
}
