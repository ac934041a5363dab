using Microsoft.Extensions.Options;

namespace Kbl.Silo.Hosting;

/// <summary>
/// Checks <c>Kbl:Auth</c>. Without a token a silo serves open only in the local default, <paramref name="localDefault"/>
/// (a localhost cluster outside Kubernetes), or when <c>AllowAnonymous</c> says so.
/// </summary>
public sealed class KblAuthOptionsValidator(bool localDefault) : IValidateOptions<KblAuthOptions>
{
    public ValidateOptionsResult Validate(string? name, KblAuthOptions o) => o switch
    {
        { Token.Length: 0, AllowAnonymous: false } when !localDefault =>
            ValidateOptionsResult.Fail("Kbl:Auth:Token is required outside the local default (set a token, or Kbl:Auth:AllowAnonymous=true to run open)"),
        { Token.Length: > 0 and < 16 } => ValidateOptionsResult.Fail("Kbl:Auth:Token must be at least 16 characters"),
        _ => ValidateOptionsResult.Success,
    };
}
