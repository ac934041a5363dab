using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

/// <summary>
/// Checks <c>Kbl:Cluster:Tls</c>: the files it names exist and hold what they should (the certificate is loaded here,
/// once, so an unreadable or unsuitable one stops the silo before it starts).
/// </summary>
public sealed class KblClusterTlsOptionsValidator : IValidateOptions<KblClusterTlsOptions>
{
    private const string S = KblClusterTlsOptions.Section + ":";

    public ValidateOptionsResult Validate(string? name, KblClusterTlsOptions o)
    {
        var failure = o switch
        {
            { Enabled: false } when o.KeyPath.Length > 0 || o.CaPath.Length > 0 || o.Password.Length > 0 =>
                $"{S}CertificatePath is required when {S}KeyPath, CaPath or Password is set",
            { Enabled: false } => null,
            _ when Missing(o.CertificatePath, "CertificatePath") is { } missing => missing,
            _ when o.KeyPath.Length > 0 && Missing(o.KeyPath, "KeyPath") is { } missing => missing,
            _ when o.CaPath.Length > 0 && Missing(o.CaPath, "CaPath") is { } missing => missing,
            _ => SiloTls.Check(o),
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    private static string? Missing(string path, string key) =>
        File.Exists(path) ? null : $"{S}{key} '{path}' is no file (mount the secret that holds it)";
}
