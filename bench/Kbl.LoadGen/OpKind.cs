namespace Kbl.LoadGen;

/// <summary>What a run does: only puts, only gets, or a mix of both.</summary>
internal enum OpKind
{
    Put,
    Get,
    Mixed,

    /// <summary>Not a record: <c>GET /healthz</c>, the gateway's no-op endpoint (what ASP.NET Core costs without Kbl), over HTTP.</summary>
    Noop,
}
