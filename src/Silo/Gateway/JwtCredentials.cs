using System.Net;
using System.Text.Json;
using Kbl.Configuration;
using Kbl.Silo.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;

namespace Kbl.Silo.Gateway;

/// <summary>
/// JWT bearer tokens beside the static token (<c>Kbl:Auth:Jwt</c>), validated by ASP.NET Core's JwtBearer handler:
/// signature (keys from the authority's discovery document, or a JWKS file), issuer, audience and lifetime. The handler
/// is only asked by <see cref="BearerTokenMiddleware"/> and reads the same credential the middleware does
/// (<see cref="BearerToken.Presented"/>), so there is one door and one token per request.
/// </summary>
public static class JwtCredentials
{
    public const string Scheme = "KblJwt";

    /// <summary>Registers the handler when <paramref name="jwt"/> is on.</summary>
    /// <exception cref="KblConfigurationException">the signing keys file cannot be read.</exception>
    public static void AddKblJwt(this IServiceCollection services, KblAuthOptions auth)
    {
        var jwt = auth.Jwt;
        if (!jwt.Enabled)
        {
            return;
        }

        services.AddAuthentication().AddJwtBearer(Scheme, o =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                ValidateIssuerSigningKey = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidAudience = jwt.Audience,
                ClockSkew = jwt.ClockSkew,
            };
            if (jwt.Issuer.Length > 0)
            {
                o.TokenValidationParameters.ValidIssuer = jwt.Issuer;
            }

            if (jwt.Authority.Length > 0)
            {
                o.Authority = jwt.Authority;
                o.RequireHttpsMetadata = new Uri(jwt.Authority).Scheme == Uri.UriSchemeHttps;
            }
            else
            {
                o.TokenValidationParameters.IssuerSigningKeys = SigningKeys(jwt.SigningKeysPath);
            }

            o.Events = new JwtBearerEvents
            {
                // The credential the door looks at, wherever it came from; the static token is no JWT.
                OnMessageReceived = context =>
                {
                    var presented = BearerToken.Presented(context.HttpContext);
                    if (presented is not { Token.Length: > 0 } || BearerToken.Accepts(auth, presented.Value.Token))
                    {
                        context.NoResult();
                    }
                    else
                    {
                        context.Token = presented.Value.Token;
                    }

                    return Task.CompletedTask;
                },
            };
        });
    }

    /// <summary>The signing keys of a JWKS file.</summary>
    /// <exception cref="KblConfigurationException">not a JWKS document, or no key in it can verify a signature.</exception>
    public static IReadOnlyList<SecurityKey> SigningKeys(string path)
    {
        const string Key = KblJwtOptions.Section + ":SigningKeysPath";
        List<SecurityKey> keys;
        try
        {
            // GetSigningKeys converts RSA and EC keys only: symmetric ("oct") ones are taken as they are.
            var set = new JsonWebKeySet(File.ReadAllText(path));
            keys = [.. set.GetSigningKeys()];
            keys.AddRange(set.Keys
                .Where(k => k.Kty == JsonWebAlgorithmsKeyTypes.Octet && k.K is { Length: > 0 } && k.Use is null or JsonWebKeyUseNames.Sig)
                .Select(k => new SymmetricSecurityKey(Base64UrlEncoder.DecodeBytes(k.K)) { KeyId = k.Kid }));
        }
        catch (Exception e) when (e is ArgumentException or JsonException or FormatException or IOException or UnauthorizedAccessException)
        {
            throw new KblConfigurationException($"{Key} '{path}' is not a JWKS document ({{\"keys\": [...]}}): {e.GetType().Name}");
        }

        return keys.Count > 0 ? keys : throw new KblConfigurationException($"{Key} '{path}' holds no key that can verify a signature (RSA, EC or oct)");
    }

    /// <summary>Why the handler refused a token, in words a caller can act on (never the token itself).</summary>
    public static string Reason(Exception? failure) => failure switch
    {
        SecurityTokenExpiredException => "it has expired",
        SecurityTokenNotYetValidException => "it is not valid yet",
        SecurityTokenNoExpirationException => "it has no expiry (exp)",
        SecurityTokenInvalidAudienceException => $"it is not for this audience (aud)",
        SecurityTokenInvalidIssuerException => "it is from another issuer (iss)",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "its signature does not verify",
        SecurityTokenMalformedException => "it is not a JWT",
        HttpRequestException or InvalidOperationException => "the identity provider's keys could not be fetched",
        _ => "it is not valid",
    };

    /// <summary>Authenticates the request's JWT with the handler (once per request; the handler keeps its answer).</summary>
    public static Task<AuthenticateResult> Authenticate(HttpContext http) => http.AuthenticateAsync(Scheme);

    /// <summary>Whether a JWT authority may be reached over plain HTTP: only on this machine (tests, a local identity provider).</summary>
    public static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
}
