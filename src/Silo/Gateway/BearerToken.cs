using System.Security.Cryptography;
using System.Text;
using Kbl.Silo.Hosting;

namespace Kbl.Silo.Gateway;

/// <summary>Checks a presented bearer token against <c>Kbl:Auth:Token</c> in constant time.</summary>
public static class BearerToken
{
    public const string Cookie = "kbl_token";

    public static bool Accepts(KblAuthOptions auth, string? presented) =>
        presented is not null &&
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(auth.Token));

    /// <summary>The token of an <c>Authorization: Bearer …</c> header, or null.</summary>
    public static string? FromHeader(string? authorization) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? authorization[7..].Trim() : null;
}
