using Kbl.Configuration;
using Kbl.Silo.Gateway;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

/// <summary>
/// Checks <c>Kbl:Auth:Jwt</c>: an audience; exactly one source of signing keys (an authority reached over HTTPS, or
/// plain HTTP on this machine only; or a JWKS file, read here, with the issuer its tokens carry); a grants claim; a
/// clock skew of at most ten minutes.
/// </summary>
public sealed class KblJwtOptionsValidator : IValidateOptions<KblJwtOptions>
{
    private const string S = KblJwtOptions.Section + ":";

    public ValidateOptionsResult Validate(string? name, KblJwtOptions o)
    {
        var failure = o switch
        {
            { Enabled: false } => null,
            { Audience.Length: 0 } => $"{S}Audience is required with JWT validation: the aud every token must carry",
            _ when (o.Authority.Length > 0) == (o.SigningKeysPath.Length > 0) =>
                $"{KblJwtOptions.Section}: set exactly one of Authority (the identity provider; keys from its discovery document) and SigningKeysPath (a JWKS file)",
            _ when o.Authority.Length > 0 && Authority(o.Authority) is { } bad => bad,
            _ when o.SigningKeysPath.Length > 0 && o.Issuer.Length == 0 => $"{S}Issuer is required with {S}SigningKeysPath: the iss every token must carry",
            _ when o.SigningKeysPath.Length > 0 && !File.Exists(o.SigningKeysPath) => $"{S}SigningKeysPath '{o.SigningKeysPath}' is no file",
            _ when o.SigningKeysPath.Length > 0 && Keys(o.SigningKeysPath) is { } bad => bad,
            { GrantsClaim.Length: 0 } => $"{S}GrantsClaim must name the claim that lists a token's grants",
            _ when o.ClockSkew < TimeSpan.Zero || o.ClockSkew > TimeSpan.FromMinutes(10) => $"{S}ClockSkew {o.ClockSkew} must be between 00:00:00 and 00:10:00",
            _ => null,
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    private static string? Authority(string authority) =>
        !Uri.TryCreate(authority, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
            ? $"{S}Authority '{authority}' must be an https:// URL (the identity provider's issuer)"
            : uri.Scheme == Uri.UriSchemeHttp && !JwtCredentials.IsLoopback(uri)
                ? $"{S}Authority '{authority}' must use https (plain http only on this machine: 127.0.0.1, localhost)"
                : null;

    private static string? Keys(string path)
    {
        try
        {
            JwtCredentials.SigningKeys(path);
            return null;
        }
        catch (KblConfigurationException e)
        {
            return e.Message;
        }
    }
}
