using System.Security.Cryptography;
using System.Text;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>The credential a request presents, and the static token's check (<c>Kbl:Auth:Token</c>, in constant time).</summary>
public static class BearerToken
{
    public const string Cookie = "kbl_token";

    public static bool Accepts(KblAuthOptions auth, string? presented) =>
        presented is not null && auth.Token.Length > 0 &&
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(auth.Token));

    /// <summary>The token of an <c>Authorization: Bearer …</c> header, or null.</summary>
    public static string? FromHeader(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;

    /// <summary>
    /// The one credential a request presents: on a page a browser opens by address (<see cref="BrowserEntry"/>) its
    /// <c>?token=</c> first; then the <c>Authorization: Bearer</c> header; then the cookie such a page set. Null when
    /// it presents none. A wrong credential is not made up for by another one further down.
    /// </summary>
    public static (string Token, bool FromQuery)? Presented(HttpContext http)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<BrowserEntry>() is not null &&
            http.Request.Query.TryGetValue("token", out var query) && query.ToString() is { Length: > 0 } fromQuery)
        {
            return (fromQuery, true);
        }

        if (http.Request.Headers.Authorization.Count > 0)
        {
            return (FromHeader(http.Request.Headers.Authorization.ToString()) ?? "", false);
        }

        return http.Request.Cookies[BearerToken.Cookie] is { } cookie ? (cookie, false) : null;
    }
}
