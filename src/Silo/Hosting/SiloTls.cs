using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Kbl.Configuration;
using Orleans.Connections.Security;

namespace Kbl.Silo.Hosting;

/// <summary>
/// TLS between silos (<c>Kbl:Cluster:Tls</c>, Microsoft.Orleans.Connections.Security): every silo-to-silo and client
/// gateway connection is mutual TLS, and a peer is admitted only with the cluster's certificate or one its authority
/// issued. A silo without it cannot join: its connections are refused in the handshake.
/// </summary>
public static class SiloTls
{
    private const string S = KblClusterTlsOptions.Section + ":";
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    /// <summary>Turns TLS on for every Orleans connection of <paramref name="silo"/> when <paramref name="tls"/> names a certificate.</summary>
    /// <exception cref="KblConfigurationException">the certificate or the authority cannot be read.</exception>
    public static void Configure(ISiloBuilder silo, KblClusterTlsOptions tls)
    {
        if (!tls.Enabled)
        {
            return;
        }

        var certificate = LoadCertificate(tls);
        var authorities = LoadAuthorities(tls);
        silo.UseTls(certificate, o =>
        {
            o.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            o.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            o.RemoteCertificateValidation = (peer, _, _) => Admits(certificate, authorities, peer, DateTime.UtcNow);
        });
    }

    /// <summary>Why the configured certificate cannot serve, or null when it can (<see cref="KblClusterTlsOptionsValidator"/>).</summary>
    public static string? Check(KblClusterTlsOptions tls)
    {
        try
        {
            using var certificate = LoadCertificate(tls);
            var authorities = LoadAuthorities(tls);
            if (authorities is not null && !Admits(certificate, authorities, certificate, DateTime.UtcNow))
            {
                return $"{S}CertificatePath '{tls.CertificatePath}' was not issued by the authority in {S}CaPath '{tls.CaPath}': the other silos would refuse it";
            }

            return null;
        }
        catch (KblConfigurationException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// Whether a peer showing <paramref name="peer"/> belongs to the cluster: the same certificate as this silo's, or,
    /// with authorities, one that chains to them; in both cases valid at <paramref name="now"/>. Host names are not
    /// checked: silos reach each other by pod IP, and the certificate, not the address, is what makes a member.
    /// </summary>
    public static bool Admits(X509Certificate2 own, X509Certificate2Collection? authorities, X509Certificate2 peer, DateTime now)
    {
        if (now < peer.NotBefore.ToUniversalTime() || now > peer.NotAfter.ToUniversalTime())
        {
            return false;
        }

        if (authorities is null)
        {
            return peer.RawDataMemory.Span.SequenceEqual(own.RawDataMemory.Span);
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now;
        return chain.Build(peer);
    }

    /// <summary>The silo's certificate with its private key, from a PEM or PKCS#12 file.</summary>
    /// <exception cref="KblConfigurationException">unreadable, without a private key, expired, or not for both ends of a connection.</exception>
    public static X509Certificate2 LoadCertificate(KblClusterTlsOptions tls)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = IsPem(tls.CertificatePath)
                ? tls.Password.Length > 0
                    ? X509Certificate2.CreateFromEncryptedPemFile(tls.CertificatePath, tls.Password, NullIfEmpty(tls.KeyPath))
                    : X509Certificate2.CreateFromPemFile(tls.CertificatePath, NullIfEmpty(tls.KeyPath))
                : X509CertificateLoader.LoadPkcs12FromFile(tls.CertificatePath, NullIfEmpty(tls.Password));
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new KblConfigurationException($"{S}CertificatePath '{tls.CertificatePath}' cannot be read as a certificate with its private key: {OneLine(e.Message)}");
        }

        var failure = certificate switch
        {
            { HasPrivateKey: false } => "has no private key (set {S}KeyPath to the key's PEM file)",
            _ when DateTime.UtcNow > certificate.NotAfter.ToUniversalTime() => $"expired on {certificate.NotAfter.ToUniversalTime():yyyy-MM-dd}",
            _ when DateTime.UtcNow < certificate.NotBefore.ToUniversalTime() => $"is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm} UTC",
            _ when !AllowsBothEnds(certificate) => "is not for both TLS server and client authentication (its extended key usage must allow both, or be absent)",
            _ => null,
        };
        if (failure is not null)
        {
            certificate.Dispose();
            throw new KblConfigurationException($"{S}CertificatePath '{tls.CertificatePath}' {failure.Replace("{S}", S, StringComparison.Ordinal)}");
        }

        return certificate;
    }

    /// <summary>The authority certificates of <c>CaPath</c>, or null when none is set (a peer must then show this silo's own certificate).</summary>
    public static X509Certificate2Collection? LoadAuthorities(KblClusterTlsOptions tls)
    {
        if (tls.CaPath.Length == 0)
        {
            return null;
        }

        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(tls.CaPath);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new KblConfigurationException($"{S}CaPath '{tls.CaPath}' cannot be read as PEM certificates: {OneLine(e.Message)}");
        }

        return authorities.Count > 0 ? authorities : throw new KblConfigurationException($"{S}CaPath '{tls.CaPath}' holds no PEM certificate");
    }

    private static bool AllowsBothEnds(X509Certificate2 certificate)
    {
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().SingleOrDefault()?.EnhancedKeyUsages;
        return usages is null || (usages[ServerAuth] is not null && usages[ClientAuth] is not null);
    }

    private static bool IsPem(string path)
    {
        // PEM is text that may open with comments ("Bag Attributes" from openssl); PKCS#12 is DER, binary from its first byte.
        using var file = File.OpenRead(path);
        var head = new byte[4096];
        var read = file.Read(head);
        return System.Text.Encoding.ASCII.GetString(head, 0, read).Contains("-----BEGIN", StringComparison.Ordinal);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
