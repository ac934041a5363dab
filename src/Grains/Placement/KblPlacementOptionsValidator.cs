using Microsoft.Extensions.Options;

namespace Kbl.Placement;

public sealed class KblPlacementOptionsValidator : IValidateOptions<KblPlacementOptions>
{
    public ValidateOptionsResult Validate(string? name, KblPlacementOptions o)
    {
        if (!Enum.IsDefined(o.WhenGroupMissing))
        {
            return ValidateOptionsResult.Fail("Kbl:Placement:WhenGroupMissing must be Wait or Elsewhere");
        }

        if (o.WaitForGroup < TimeSpan.Zero || o.WaitForGroup > TimeSpan.FromMinutes(5))
        {
            return ValidateOptionsResult.Fail($"Kbl:Placement:WaitForGroup {o.WaitForGroup} must be between 00:00:00 and 00:05:00");
        }

        if (o.LoadRefresh < TimeSpan.FromMilliseconds(50) || o.LoadRefresh > TimeSpan.FromMinutes(1))
        {
            return ValidateOptionsResult.Fail($"Kbl:Placement:LoadRefresh {o.LoadRefresh} must be between 00:00:00.050 and 00:01:00");
        }

        if (o.RebalancePeriod < TimeSpan.Zero || (o.RebalancePeriod > TimeSpan.Zero && o.RebalancePeriod < TimeSpan.FromMilliseconds(100)))
        {
            return ValidateOptionsResult.Fail($"Kbl:Placement:RebalancePeriod {o.RebalancePeriod} must be 0 (off) or at least 00:00:00.100");
        }

        if (o.MaxMovesPerRound is < 1 or > 100)
        {
            return ValidateOptionsResult.Fail($"Kbl:Placement:MaxMovesPerRound {o.MaxMovesPerRound} must be between 1 and 100");
        }

        return o.DrainTimeout < TimeSpan.Zero || o.DrainTimeout > TimeSpan.FromHours(1)
            ? ValidateOptionsResult.Fail($"Kbl:Placement:DrainTimeout {o.DrainTimeout} must be between 00:00:00 and 01:00:00")
            : ValidateOptionsResult.Success;
    }
}
