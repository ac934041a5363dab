namespace Kbl.Silo.Hosting;

/// <summary>
/// Section <c>Kbl:Auth</c>: who may use the gateway. A static bearer token (every right), JWT bearer tokens from an
/// identity provider (<see cref="Jwt"/>: the rights their claims grant), or both; neither in the local default only.
/// </summary>
public sealed class KblAuthOptions
{
    public const string Section = "Kbl:Auth";

    /// <summary>The token clients send as <c>Authorization: Bearer …</c>. Empty: no static token.</summary>
    public string Token { get; set; } = "";

    /// <summary>Allow running without a token outside the local default (Redis clustering or Kubernetes).</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>JWT bearer tokens beside the static one (<c>Kbl:Auth:Jwt:*</c>): off unless an authority or signing keys are named.</summary>
    public KblJwtOptions Jwt { get; set; } = new();

    /// <summary>The gateway asks for credentials: a static token or JWT validation is configured.</summary>
    public bool Required => Token.Length > 0 || Jwt.Enabled;
}
