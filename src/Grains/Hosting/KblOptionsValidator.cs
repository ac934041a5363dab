using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Kbl.Hosting;

public sealed partial class KblOptionsValidator : IValidateOptions<KblOptions>
{
    public ValidateOptionsResult Validate(string? name, KblOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.DataPath))
        {
            return ValidateOptionsResult.Fail("Kbl:DataPath must name a directory");
        }

        if (!Name().IsMatch(options.SiloName))
        {
            return ValidateOptionsResult.Fail($"Kbl:SiloName '{options.SiloName}' must be 1-63 characters a-z, 0-9, '-' and '.'");
        }

        if (!Name().IsMatch(options.NodeGroup) || options.NodeGroup.Contains('.', StringComparison.Ordinal))
        {
            return ValidateOptionsResult.Fail($"Kbl:NodeGroup '{options.NodeGroup}' must be 1-63 characters a-z, 0-9 and '-'");
        }

        if (!Name().IsMatch(options.Zone))
        {
            return ValidateOptionsResult.Fail($"Kbl:Zone '{options.Zone}' must be 1-63 characters a-z, 0-9, '-' and '.'");
        }

        if (options.FeedbackPeriod < TimeSpan.FromMilliseconds(50) || options.FeedbackPeriod > TimeSpan.FromHours(1))
        {
            return ValidateOptionsResult.Fail($"Kbl:FeedbackPeriod {options.FeedbackPeriod} must be between 00:00:00.050 and 01:00:00");
        }

        if (options.StrayCopySweepDelay < TimeSpan.Zero || options.StrayCopySweepDelay > TimeSpan.FromDays(1))
        {
            return ValidateOptionsResult.Fail($"Kbl:StrayCopySweepDelay {options.StrayCopySweepDelay} must be between 00:00:00 and 1.00:00:00");
        }

        if (options.StrayCopySweepPeriod != TimeSpan.Zero && (options.StrayCopySweepPeriod < TimeSpan.FromSeconds(1) || options.StrayCopySweepPeriod > TimeSpan.FromDays(1)))
        {
            return ValidateOptionsResult.Fail($"Kbl:StrayCopySweepPeriod {options.StrayCopySweepPeriod} must be 00:00:00 (only at start) or between 00:00:01 and 1.00:00:00");
        }

        if (options.RebuildBytesPerSecond < 65_536)
        {
            return ValidateOptionsResult.Fail($"Kbl:RebuildBytesPerSecond {options.RebuildBytesPerSecond} must be at least 65536 (64 KiB/s)");
        }

        if (options.RebuildStreams is < 1 or > 64)
        {
            return ValidateOptionsResult.Fail($"Kbl:RebuildStreams {options.RebuildStreams} must be between 1 and 64");
        }

        if (options.AggregatePageRecords is < 1 or > 1_000_000)
        {
            return ValidateOptionsResult.Fail($"Kbl:AggregatePageRecords {options.AggregatePageRecords} must be between 1 and 1000000");
        }

        if (options.MaxColonies is < 1 or > KblOptions.MaxColoniesLimit)
        {
            return ValidateOptionsResult.Fail($"Kbl:MaxColonies {options.MaxColonies} must be between 1 and {KblOptions.MaxColoniesLimit}");
        }

        return ValidateOptionsResult.Success;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{0,62}$")]
    private static partial Regex Name();
}
