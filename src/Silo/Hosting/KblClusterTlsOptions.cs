namespace Kbl.Silo.Hosting;

/// <summary>
/// Section <c>Kbl:Cluster:Tls</c>: TLS on the silo-to-silo and Orleans client gateway ports (mutual: both ends show a
/// certificate). Off while <see cref="CertificatePath"/> is empty. A peer is admitted when it shows the very same
/// certificate as this silo (one certificate shared by every silo, from one Kubernetes secret), or, with
/// <see cref="CaPath"/>, any certificate that chains to that authority.
/// </summary>
public sealed class KblClusterTlsOptions
{
    public const string Section = "Kbl:Cluster:Tls";

    /// <summary>This silo's certificate: a PEM file (with its key, or the key in <see cref="KeyPath"/>) or a PKCS#12 (<c>.pfx</c>, <c>.p12</c>) file.</summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>The PEM private key of a PEM certificate, when it is not in the certificate's own file (<c>tls.key</c> of a Kubernetes TLS secret).</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>The password of a PKCS#12 file or of an encrypted PEM key; empty for none.</summary>
    public string Password { get; set; } = "";

    /// <summary>
    /// PEM certificates of the authority that issues the silos' certificates (<c>ca.crt</c>). Empty: a peer must show
    /// this silo's own certificate.
    /// </summary>
    public string CaPath { get; set; } = "";

    /// <summary>TLS between silos is on.</summary>
    public bool Enabled => CertificatePath.Length > 0;
}
