namespace Kbl.Silo.Hosting;

/// <summary>
/// Section <c>Kbl:Auth:Jwt</c>: JWT bearer tokens from an identity provider, beside the static <c>Kbl:Auth:Token</c>.
/// A token is accepted when it is signed by one of the provider's keys, issued by <see cref="Issuer"/> for
/// <see cref="Audience"/> and not expired; what it may do comes from its <see cref="GrantsClaim"/> claim
/// (<c>orders:read</c>, <c>orders:write</c>, <c>*:read</c>, <c>*:write</c>, <c>admin</c>; docs/security.md).
/// </summary>
public sealed class KblJwtOptions
{
    public const string Section = "Kbl:Auth:Jwt";

    /// <summary>The identity provider (OpenID Connect issuer URL): its signing keys come from its discovery document and are refreshed.</summary>
    public string Authority { get; set; } = "";

    /// <summary>The <c>iss</c> a token must carry. Default with <see cref="Authority"/>: the issuer its discovery document names.</summary>
    public string Issuer { get; set; } = "";

    /// <summary>The <c>aud</c> a token must carry (required).</summary>
    public string Audience { get; set; } = "";

    /// <summary>Instead of an authority: a JWKS file (<c>{"keys": [...]}</c>, RSA, EC or symmetric keys) holding the signing keys.</summary>
    public string SigningKeysPath { get; set; } = "";

    /// <summary>The claim listing what a token may do, as a list or a space- or comma-separated string.</summary>
    public string GrantsClaim { get; set; } = "kbl:colonies";

    /// <summary>How far a token's times (<c>exp</c>, <c>nbf</c>) may be off the silo's clock.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>JWT validation is on: an authority or signing keys are named (or anything else of this section is set).</summary>
    public bool Enabled => Authority.Length > 0 || SigningKeysPath.Length > 0 || Issuer.Length > 0 || Audience.Length > 0;
}
