using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Kbl.Hosting;

public sealed partial class ColdTierOptionsValidator : IValidateOptions<ColdTierOptions>
{
    public ValidateOptionsResult Validate(string? name, ColdTierOptions options)
    {
        if (options.Mode == ColdTierMode.Local)
        {
            return string.IsNullOrWhiteSpace(options.Path) || File.Exists(options.Path)
                ? ValidateOptionsResult.Fail($"Kbl:ColdTier:Path '{options.Path}' must name a directory")
                : ValidateOptionsResult.Success;
        }

        var s3 = options.S3;
        if (!Bucket().IsMatch(s3.Bucket))
        {
            return ValidateOptionsResult.Fail($"Kbl:ColdTier:S3:Bucket '{s3.Bucket}' must be an S3 bucket name (3-63 characters a-z, 0-9, '.' and '-') with Kbl:ColdTier:Mode=s3");
        }

        if (s3.Prefix.Length > 0 && (!s3.Prefix.EndsWith('/') || s3.Prefix.StartsWith('/') || s3.Prefix.Contains("//", StringComparison.Ordinal)))
        {
            return ValidateOptionsResult.Fail($"Kbl:ColdTier:S3:Prefix '{s3.Prefix}' must be empty or a relative path ending with '/' (e.g. kbl/prod/)");
        }

        if (s3.ServiceUrl.Length > 0 && (!Uri.TryCreate(s3.ServiceUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https")))
        {
            return ValidateOptionsResult.Fail($"Kbl:ColdTier:S3:ServiceUrl '{s3.ServiceUrl}' must be an http(s) URL, or empty for AWS");
        }

        if (!Region().IsMatch(s3.Region))
        {
            return ValidateOptionsResult.Fail($"Kbl:ColdTier:S3:Region '{s3.Region}' must be an AWS region name (e.g. us-east-1)");
        }

        if (s3.PartBytes is < 5L << 20 or > 5L << 30)
        {
            return ValidateOptionsResult.Fail($"Kbl:ColdTier:S3:PartBytes {s3.PartBytes} must be between 5242880 (5 MiB, S3's least part) and 5368709120 (5 GiB)");
        }

        return ValidateOptionsResult.Success;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex Bucket();

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]$")]
    private static partial Regex Region();
}
