using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kbl.Tests.Process;

/// <summary>
/// Certificates made in the test process (CertificateRequest, ECDSA P-256): self-signed ones, an authority and the
/// certificates it issues, written as PEM (certificate and key apart, as a Kubernetes TLS secret holds them) or PKCS#12.
/// All name 127.0.0.1 and localhost, and allow TLS server and client authentication unless told otherwise.
/// </summary>
public static class TestCertificates
{
    public static X509Certificate2 SelfSigned(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool clientAuth = true)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Leaf(name, key, clientAuth);
        return request.CreateSelfSigned(notBefore ?? DateTimeOffset.UtcNow.AddHours(-1), notAfter ?? DateTimeOffset.UtcNow.AddDays(1));
    }

    public static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(2));
    }

    public static X509Certificate2 IssuedBy(X509Certificate2 authority, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = Leaf(name, key, clientAuth: true);
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-30), DateTimeOffset.UtcNow.AddDays(1), serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate and its key as two PEM files (<c>NAME.crt</c>, <c>NAME.key</c>) and returns their paths.</summary>
    public static (string Certificate, string Key) WritePem(X509Certificate2 certificate, string directory, string name)
    {
        Directory.CreateDirectory(directory);
        var (crt, key) = (Path.Combine(directory, name + ".crt"), Path.Combine(directory, name + ".key"));
        File.WriteAllText(crt, certificate.ExportCertificatePem());
        if (certificate.GetECDsaPrivateKey() is { } ecdsa)
        {
            using (ecdsa)
            {
                File.WriteAllText(key, ecdsa.ExportPkcs8PrivateKeyPem());
            }
        }

        return (crt, key);
    }

    /// <summary>Writes certificate and key as one PKCS#12 file with <paramref name="password"/>.</summary>
    public static string WritePfx(X509Certificate2 certificate, string directory, string name, string password)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
        return path;
    }

    private static CertificateRequest Leaf(string name, ECDsa key, bool clientAuth)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, false));
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.1") };
        if (clientAuth)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, false));
        return request;
    }
}
