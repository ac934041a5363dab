using Kbl.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Gateway;

public sealed class KblGatewayOptionsValidator : IValidateOptions<KblGatewayOptions>
{
    private const string S = "Kbl:Gateway:";

    public ValidateOptionsResult Validate(string? name, KblGatewayOptions o)
    {
        var failure = o switch
        {
            _ when KblClusterOptionsValidator.Port(o.GrpcPort, "GrpcPort", S) is { } bad => bad,
            _ when o.MaxValueBytes is < 1 or > 64 * 1024 * 1024 => $"{S}MaxValueBytes {o.MaxValueBytes} must be between 1 and 67108864",
            _ when o.MaxScanPage is < 1 or > 100_000 => $"{S}MaxScanPage {o.MaxScanPage} must be between 1 and 100000",
            _ => null,
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }
}
