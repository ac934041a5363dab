using Microsoft.Extensions.Options;

namespace Kbl.Provisioning;

/// <summary>Checks <c>Kbl:Provisioning</c>; <paramref name="reconciles"/> adds what running a reconciler needs.</summary>
public sealed class ProvisioningOptionsValidator(bool reconciles) : IValidateOptions<ProvisioningOptions>
{
    private const string S = "Kbl:Provisioning:";

    public ValidateOptionsResult Validate(string? name, ProvisioningOptions o)
    {
        var failure = Check(o);
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    private string? Check(ProvisioningOptions o)
    {
        if (o.Provider is not ("local" or "eks" or "dry-run" or "off"))
        {
            return $"{S}Provider '{o.Provider}' must be local, eks, dry-run or off";
        }

        if (o.Queue is not ("local" or "sqs"))
        {
            return $"{S}Queue '{o.Queue}' must be local or sqs";
        }

        if (o.ResyncInterval < TimeSpan.FromMilliseconds(100) || o.ResyncInterval > TimeSpan.FromHours(1))
        {
            return $"{S}ResyncInterval {o.ResyncInterval} must be between 00:00:00.100 and 01:00:00";
        }

        if (o.HealthPort is < 0 or > 65535)
        {
            return $"{S}HealthPort {o.HealthPort} must be a port (1-65535), or 0 for none";
        }

        if (o.StallTimeout < TimeSpan.FromSeconds(1) || o.StallTimeout > TimeSpan.FromDays(1) || o.StallTimeout <= o.ResyncInterval)
        {
            return $"{S}StallTimeout {o.StallTimeout} must be between 00:00:01 and 1.00:00:00 and longer than ResyncInterval ({o.ResyncInterval})";
        }

        if (o.Provider == "off")
        {
            return null;
        }

        if (o.Queue == "sqs")
        {
            if (!Uri.TryCreate(o.Sqs.QueueUrl, UriKind.Absolute, out _))
            {
                return $"{S}Sqs:QueueUrl '{o.Sqs.QueueUrl}' must be the queue's URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) when {S}Queue is sqs";
            }

            if (Url(o.Sqs.ServiceUrl, "Sqs:ServiceUrl") is { } badSqs)
            {
                return badSqs;
            }
        }

        if (o.Local.MaxSilos is < 0 or > 64)
        {
            return $"{S}Local:MaxSilos {o.Local.MaxSilos} must be between 0 and 64";
        }

        if (!reconciles || o.Provider is "local")
        {
            return null;
        }

        var eks = o.Eks;
        return o.Provider switch
        {
            "eks" when string.IsNullOrWhiteSpace(eks.ClusterName) => $"{S}Eks:ClusterName is required with the eks provider",
            _ when string.IsNullOrWhiteSpace(eks.Region) => $"{S}Eks:Region is required with the {o.Provider} provider",
            "eks" when !eks.NodeRole.StartsWith("arn:", StringComparison.Ordinal) => $"{S}Eks:NodeRole '{eks.NodeRole}' must be the node IAM role's ARN (arn:aws:iam::ACCOUNT:role/NAME)",
            _ when Url(eks.ServiceUrl, "Eks:ServiceUrl") is { } bad => bad,
            _ when Url(eks.Ec2ServiceUrl, "Eks:Ec2ServiceUrl") is { } bad => bad,
            _ when Url(eks.AutoScalingServiceUrl, "Eks:AutoScalingServiceUrl") is { } bad => bad,
            _ when eks.Subnets.FirstOrDefault(s => !s.StartsWith("subnet-", StringComparison.Ordinal)) is { } subnet => $"{S}Eks:Subnets '{subnet}' must be a subnet id (subnet-…)",
            _ when eks.PollInterval < TimeSpan.FromMilliseconds(10) || eks.PollInterval > TimeSpan.FromMinutes(5) => $"{S}Eks:PollInterval {eks.PollInterval} must be between 00:00:00.010 and 00:05:00",
            _ when eks.WaitTimeout < eks.PollInterval || eks.WaitTimeout > TimeSpan.FromHours(2) => $"{S}Eks:WaitTimeout {eks.WaitTimeout} must be between PollInterval and 02:00:00",
            _ when eks.MaxAttempts is < 1 or > 20 => $"{S}Eks:MaxAttempts {eks.MaxAttempts} must be between 1 and 20",
            _ when eks.Backoff < TimeSpan.Zero || eks.Backoff > TimeSpan.FromMinutes(1) => $"{S}Eks:Backoff {eks.Backoff} must be between 00:00:00 and 00:01:00",
            _ when string.IsNullOrWhiteSpace(o.Kubernetes.Namespace) => $"{S}Kubernetes:Namespace must name a namespace",
            _ => null,
        };
    }

    private static string? Url(string value, string key) =>
        value.Length == 0 || (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            ? null
            : $"{S}{key} '{value}' must be an http(s) URL";
}
