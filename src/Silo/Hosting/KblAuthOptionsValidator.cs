using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

/// <summary>
/// Checks <c>Kbl:Auth</c>. Without credentials (a token or JWT validation) a silo serves open only in the local default,
/// <paramref name="localDefault"/> (a localhost cluster outside Kubernetes), or when <c>AllowAnonymous</c> says so.
/// </summary>
public sealed class KblAuthOptionsValidator(bool localDefault) : IValidateOptions<KblAuthOptions>
{
    public ValidateOptionsResult Validate(string? name, KblAuthOptions o) => o switch
    {
        { Required: false, AllowAnonymous: false } when !localDefault =>
            ValidateOptionsResult.Fail("Kbl:Auth:Token (or Kbl:Auth:Jwt) is required outside the local default (set a token, or Kbl:Auth:AllowAnonymous=true to run open)"),
        { Token.Length: > 0 and < 16 } => ValidateOptionsResult.Fail("Kbl:Auth:Token must be at least 16 characters"),
        _ => new KblJwtOptionsValidator().Validate(name, o.Jwt),
    };
}
