using Kbl.Colonies;
using Kbl.Silo.Hosting;
using Microsoft.Extensions.Options;

namespace Kbl.Silo.Gateway;

public sealed class KblGatewayOptionsValidator : IValidateOptions<KblGatewayOptions>
{
    private const string S = "Kbl:Gateway:";
    private const int MaxRate = 10_000_000;

    public ValidateOptionsResult Validate(string? name, KblGatewayOptions o)
    {
        var failure = o switch
        {
            _ when KblClusterOptionsValidator.Port(o.GrpcPort, "GrpcPort", S) is { } bad => bad,
            _ when o.MaxValueBytes is < 1 or > 64 * 1024 * 1024 => $"{S}MaxValueBytes {o.MaxValueBytes} must be between 1 and 67108864",
            _ when o.MaxScanPage is < 1 or > 100_000 => $"{S}MaxScanPage {o.MaxScanPage} must be between 1 and 100000",
            // A leaf page travels between silos as one message: keep it well under Orleans' 100 MB limit.
            _ when o.MaxScanPageBytes is < 1024 or > 64 * 1024 * 1024 => $"{S}MaxScanPageBytes {o.MaxScanPageBytes} must be between 1024 and 67108864",
            _ when o.MaxBatchRecords is < 1 or > 100_000 => $"{S}MaxBatchRecords {o.MaxBatchRecords} must be between 1 and 100000",
            _ when o.MaxBatchBytes is < 1024 or > 64 * 1024 * 1024 => $"{S}MaxBatchBytes {o.MaxBatchBytes} must be between 1024 and 67108864",
            _ when o.MaxScanStream is < 1 or > 100_000_000 => $"{S}MaxScanStream {o.MaxScanStream} must be between 1 and 100000000",
            _ when o.MaxConcurrentRequests is < 0 or > 1_000_000 => $"{S}MaxConcurrentRequests {o.MaxConcurrentRequests} must be between 0 (no limit) and 1000000",
            _ when o.MaxQueuedRequests is < 0 or > 1_000_000 => $"{S}MaxQueuedRequests {o.MaxQueuedRequests} must be between 0 and 1000000",
            _ when o.MaxQueuedRequests > 0 && o.MaxConcurrentRequests == 0 => $"{S}MaxQueuedRequests needs {S}MaxConcurrentRequests (requests queue for one of them)",
            _ when o.ColonyRequestsPerSecond is < 0 or > MaxRate => $"{S}ColonyRequestsPerSecond {o.ColonyRequestsPerSecond} must be between 0 (no quota) and {MaxRate}",
            _ when o.ColonyQuotas.FirstOrDefault(q => !ColonyNames.IsValid(q.Key)) is { Key: not null } q =>
                $"{S}ColonyQuotas:{q.Key} must name a colony: 1 to 63 characters a-z, 0-9 and '-'",
            _ when o.ColonyQuotas.FirstOrDefault(q => q.Value is < 0 or > MaxRate) is { Key: not null } q =>
                $"{S}ColonyQuotas:{q.Key} {q.Value} must be between 0 (no quota) and {MaxRate} requests per second",
            _ => null,
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }
}
