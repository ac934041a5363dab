namespace Kbl.Silo.Gateway;

/// <summary>Section <c>Kbl:Gateway</c>. The HTTP address is set the ASP.NET Core way (<c>--urls</c>).</summary>
public sealed class KblGatewayOptions
{
    public const string Section = "Kbl:Gateway";

    /// <summary>The gRPC (HTTP/2, plaintext) port, on the host of the first HTTP URL.</summary>
    public int GrpcPort { get; set; } = 5001;

    /// <summary>The largest value a PUT may carry (413 beyond).</summary>
    public int MaxValueBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest page a scan returns over HTTP.</summary>
    public int MaxScanPage { get; set; } = 1000;
}
