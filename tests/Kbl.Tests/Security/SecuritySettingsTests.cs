using System.Security.Cryptography.X509Certificates;
using Kbl.Configuration;
using Kbl.Silo.Hosting;
using Kbl.Tests.Process;
using Microsoft.Extensions.Configuration;

namespace Kbl.Tests.Security;

/// <summary>
/// The security settings are checked before anything starts, each mistake refused with one line naming the setting:
/// silo TLS (files that are not there, not certificates, without their key, expired, not for both ends, not of the
/// authority named), the Redis connection string and its authority, and JWT validation (audience, one source of keys,
/// https, a readable JWKS file with a key in it). Nothing here quotes the Redis password.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class SecuritySettingsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kbl-security-settings-" + Guid.NewGuid().ToString("N")[..8]);

    public SecuritySettingsTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public void A_usable_certificate_in_pem_or_pkcs12_is_accepted()
    {
        using var certificate = TestCertificates.SelfSigned("kbl-silo");
        var (crt, key) = TestCertificates.WritePem(certificate, _dir, "tls");
        Assert.True(Load(("Kbl:Cluster:Tls:CertificatePath", crt), ("Kbl:Cluster:Tls:KeyPath", key)).Cluster.Tls.Enabled);
        var pfx = TestCertificates.WritePfx(certificate, _dir, "tls", "secret");
        Assert.True(Load(("Kbl:Cluster:Tls:CertificatePath", pfx), ("Kbl:Cluster:Tls:Password", "secret")).Cluster.Tls.Enabled);
        Assert.False(Load().Cluster.Tls.Enabled);
    }

    [Fact]
    public void A_certificate_that_cannot_serve_is_refused_naming_why()
    {
        using var good = TestCertificates.SelfSigned("kbl-silo");
        var (crt, key) = TestCertificates.WritePem(good, _dir, "good");
        using var expired = TestCertificates.SelfSigned("old", DateTimeOffset.UtcNow.AddDays(-3), DateTimeOffset.UtcNow.AddDays(-1));
        var (expiredCrt, expiredKey) = TestCertificates.WritePem(expired, _dir, "expired");
        using var serverOnly = TestCertificates.SelfSigned("server-only", clientAuth: false);
        var (serverCrt, serverKey) = TestCertificates.WritePem(serverOnly, _dir, "server-only");
        var garbage = Path.Combine(_dir, "garbage.crt");
        File.WriteAllText(garbage, "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        var pfx = TestCertificates.WritePfx(good, _dir, "good", "right");
        using var authority = TestCertificates.Authority("kbl-ca");
        var ca = Path.Combine(_dir, "ca.crt");
        File.WriteAllText(ca, authority.ExportCertificatePem());

        const string S = "Kbl:Cluster:Tls:";
        AssertRefused($"{S}CertificatePath '{_dir}/missing.crt' is no file", ($"{S}CertificatePath", $"{_dir}/missing.crt"));
        AssertRefused($"{S}KeyPath '{_dir}/missing.key' is no file", ($"{S}CertificatePath", crt), ($"{S}KeyPath", $"{_dir}/missing.key"));
        AssertRefused($"{S}CertificatePath '{garbage}' cannot be read", ($"{S}CertificatePath", garbage), ($"{S}KeyPath", key));
        AssertRefused("cannot be read as a certificate with its private key", ($"{S}CertificatePath", crt));
        AssertRefused("cannot be read as a certificate with its private key", ($"{S}CertificatePath", pfx), ($"{S}Password", "wrong"));
        AssertRefused("expired on", ($"{S}CertificatePath", expiredCrt), ($"{S}KeyPath", expiredKey));
        AssertRefused("not for both TLS server and client authentication", ($"{S}CertificatePath", serverCrt), ($"{S}KeyPath", serverKey));
        AssertRefused($"was not issued by the authority in {S}CaPath", ($"{S}CertificatePath", crt), ($"{S}KeyPath", key), ($"{S}CaPath", ca));
        AssertRefused($"{S}CaPath '{garbage}' cannot be read", ($"{S}CertificatePath", crt), ($"{S}KeyPath", key), ($"{S}CaPath", garbage));
        AssertRefused($"{S}CertificatePath is required", ($"{S}KeyPath", key));
        AssertRefused($"unknown setting {S}Colour", ($"{S}Colour", "blue"));
    }

    [Fact]
    public void The_redis_connection_string_and_its_authority_are_checked_without_quoting_the_password()
    {
        using var authority = TestCertificates.Authority("redis-ca");
        var ca = Path.Combine(_dir, "redis-ca.crt");
        File.WriteAllText(ca, authority.ExportCertificatePem());
        (string, string) Redis(string value) => ("Kbl:Cluster:Redis", value);
        (string, string)[] cluster = [("Kbl:Cluster:Mode", "redis"), ("Kbl:Auth:AllowAnonymous", "true")];

        var settings = Load([.. cluster, Redis("redis:6380,ssl=true,password=p4ss-word"), ("Kbl:Cluster:RedisCaPath", ca)]);
        var options = RedisConnection.Options(settings.Cluster);
        Assert.True(options.Ssl);
        Assert.Equal("p4ss-word", options.Password);

        var refused = AssertRefused("Kbl:Cluster:Redis is not a StackExchange.Redis connection string", [.. cluster, Redis("redis:6379,password=p4ss-word,colour=blue")]);
        Assert.DoesNotContain("p4ss-word", refused, StringComparison.Ordinal);
        AssertRefused("Kbl:Cluster:Redis names no server", [.. cluster, Redis("password=p4ss-word")]);
        AssertRefused("does not say ssl=true", [.. cluster, Redis("redis:6379,password=p4ss-word"), ("Kbl:Cluster:RedisCaPath", ca)]);
        AssertRefused($"Kbl:Cluster:RedisCaPath '{_dir}/none.crt' is no file", [.. cluster, Redis("redis:6379,ssl=true"), ("Kbl:Cluster:RedisCaPath", $"{_dir}/none.crt")]);
        AssertRefused("Kbl:Cluster:RedisCaPath is only for Kbl:Cluster:Mode redis", ("Kbl:Cluster:RedisCaPath", ca));
    }

    [Fact]
    public void Jwt_validation_needs_an_audience_one_source_of_keys_and_https()
    {
        var jwks = Path.Combine(_dir, "jwks.json");
        File.WriteAllText(jwks, """{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0"}]}""");
        var empty = Path.Combine(_dir, "empty.json");
        File.WriteAllText(empty, """{"keys":[{"kty":"RSA","kid":"k"}]}""");
        var notJson = Path.Combine(_dir, "not.json");
        File.WriteAllText(notJson, "keys: none");
        const string S = "Kbl:Auth:Jwt:";

        Assert.True(Load(($"{S}SigningKeysPath", jwks), ($"{S}Issuer", "https://idp/"), ($"{S}Audience", "kbl")).Auth.Jwt.Enabled);
        Assert.True(Load(($"{S}Authority", "https://login.example.com/tenant/"), ($"{S}Audience", "kbl")).Auth.Jwt.Enabled);
        Assert.True(Load(($"{S}Authority", "http://127.0.0.1:9000"), ($"{S}Audience", "kbl")).Auth.Jwt.Enabled);

        AssertRefused($"{S}Audience is required", ($"{S}Authority", "https://login.example.com/"));
        AssertRefused("set exactly one of Authority", ($"{S}Audience", "kbl"), ($"{S}Issuer", "https://idp/"));
        AssertRefused("set exactly one of Authority", ($"{S}Audience", "kbl"), ($"{S}Authority", "https://idp/"), ($"{S}SigningKeysPath", jwks));
        AssertRefused("must use https", ($"{S}Audience", "kbl"), ($"{S}Authority", "http://idp.example.com/"));
        AssertRefused("must be an https:// URL", ($"{S}Audience", "kbl"), ($"{S}Authority", "idp"));
        AssertRefused($"{S}Issuer is required with", ($"{S}Audience", "kbl"), ($"{S}SigningKeysPath", jwks));
        AssertRefused($"{S}SigningKeysPath '{_dir}/none.json' is no file", ($"{S}Audience", "kbl"), ($"{S}Issuer", "i"), ($"{S}SigningKeysPath", $"{_dir}/none.json"));
        AssertRefused("is not a JWKS document", ($"{S}Audience", "kbl"), ($"{S}Issuer", "i"), ($"{S}SigningKeysPath", notJson));
        AssertRefused("holds no key that can verify a signature", ($"{S}Audience", "kbl"), ($"{S}Issuer", "i"), ($"{S}SigningKeysPath", empty));
        AssertRefused($"{S}ClockSkew", ($"{S}Audience", "kbl"), ($"{S}Authority", "https://idp/"), ($"{S}ClockSkew", "01:00:00"));
        AssertRefused($"{S}GrantsClaim must name", ($"{S}Audience", "kbl"), ($"{S}Authority", "https://idp/"), ($"{S}GrantsClaim", ""));
    }

    [Fact]
    public void Outside_the_local_default_a_jwt_setup_alone_is_credentials_enough()
    {
        (string, string)[] redis = [("Kbl:Cluster:Mode", "redis"), ("Kbl:Cluster:Redis", "redis:6379")];
        AssertRefused("Kbl:Auth:Token (or Kbl:Auth:Jwt) is required outside the local default", redis);
        var settings = Load([.. redis, ("Kbl:Auth:Jwt:Authority", "https://idp.example.com/"), ("Kbl:Auth:Jwt:Audience", "kbl")]);
        Assert.True(settings.Auth.Required);
        Assert.Equal("", settings.Auth.Token);
    }

    private static KblSettings Load(params (string Key, string Value)[] settings) => Kbl.Tests.Configuration.Settings.Load(settings);

    private static string AssertRefused(string expected, params (string Key, string Value)[] settings)
    {
        var refused = Assert.Throws<KblConfigurationException>(() => Load(settings));
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
        return refused.Message;
    }
}
