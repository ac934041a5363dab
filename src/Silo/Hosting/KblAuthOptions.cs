namespace Kbl.Silo.Hosting;

/// <summary>Section <c>Kbl:Auth</c>: a bearer token for the dashboard, the tree view and admin operations.</summary>
public sealed class KblAuthOptions
{
    public const string Section = "Kbl:Auth";

    /// <summary>The token clients send as <c>Authorization: Bearer …</c>. Empty: no authentication (local default only).</summary>
    public string Token { get; set; } = "";

    /// <summary>Allow running without a token outside the local default (Redis clustering or Kubernetes).</summary>
    public bool AllowAnonymous { get; set; }
}
