using Kbl.Configuration;
using Microsoft.Extensions.Options;

namespace Kbl.NodeGroups;

/// <summary>
/// Checks <c>Kbl:Provisioning</c> for a process in <paramref name="role"/>: a reconciler needs its provider's settings,
/// the Provisioner process also a provider that can run outside a silo and the cluster's URL. The names of the
/// provider and the queue are checked when they are bound (<see cref="ProviderKind"/>, <see cref="QueueKind"/>).
/// </summary>
public sealed class ProvisioningOptionsValidator(ProvisioningRole role) : IValidateOptions<ProvisioningOptions>
{
    private const string S = "Kbl:Provisioning:";

    public ValidateOptionsResult Validate(string? name, ProvisioningOptions o)
    {
        var failure = Check(o);
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    private string? Check(ProvisioningOptions o)
    {
        if (role == ProvisioningRole.Provisioner && o.Provider is ProviderKind.Local or ProviderKind.Off)
        {
            return $"{S}Provider '{o.Provider.SettingName()}' is not for the Provisioner process: use eks or dry-run (the local provider runs inside the silo)";
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

        if (o.Provider == ProviderKind.Off)
        {
            return null;
        }

        if (o.Queue == QueueKind.Sqs)
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

        if (role == ProvisioningRole.Publisher || o.Provider == ProviderKind.Local)
        {
            return null;
        }

        var eks = o.Eks;
        return o.Provider switch
        {
            ProviderKind.Eks when string.IsNullOrWhiteSpace(eks.ClusterName) => $"{S}Eks:ClusterName is required with the eks provider",
            _ when string.IsNullOrWhiteSpace(eks.Region) => $"{S}Eks:Region is required with the {o.Provider.SettingName()} provider",
            ProviderKind.Eks when !eks.NodeRole.StartsWith("arn:", StringComparison.Ordinal) => $"{S}Eks:NodeRole '{eks.NodeRole}' must be the node IAM role's ARN (arn:aws:iam::ACCOUNT:role/NAME)",
            _ when Url(eks.ServiceUrl, "Eks:ServiceUrl") is { } bad => bad,
            _ when Url(eks.Ec2ServiceUrl, "Eks:Ec2ServiceUrl") is { } bad => bad,
            _ when Url(eks.AutoScalingServiceUrl, "Eks:AutoScalingServiceUrl") is { } bad => bad,
            _ when eks.Subnets.FirstOrDefault(s => !s.StartsWith("subnet-", StringComparison.Ordinal)) is { } subnet => $"{S}Eks:Subnets '{subnet}' must be a subnet id (subnet-…)",
            _ when eks.PollInterval < TimeSpan.FromMilliseconds(10) || eks.PollInterval > TimeSpan.FromMinutes(5) => $"{S}Eks:PollInterval {eks.PollInterval} must be between 00:00:00.010 and 00:05:00",
            _ when eks.WaitTimeout < eks.PollInterval || eks.WaitTimeout > TimeSpan.FromHours(2) => $"{S}Eks:WaitTimeout {eks.WaitTimeout} must be between PollInterval and 02:00:00",
            _ when eks.MaxAttempts is < 1 or > 20 => $"{S}Eks:MaxAttempts {eks.MaxAttempts} must be between 1 and 20",
            _ when eks.Backoff < TimeSpan.Zero || eks.Backoff > TimeSpan.FromMinutes(1) => $"{S}Eks:Backoff {eks.Backoff} must be between 00:00:00 and 00:01:00",
            _ when string.IsNullOrWhiteSpace(o.Kubernetes.Namespace) => $"{S}Kubernetes:Namespace must name a namespace",
            _ when role == ProvisioningRole.Provisioner && !(Uri.TryCreate(o.ClusterUrl, UriKind.Absolute, out var cluster) && cluster.Scheme is "http" or "https") =>
                $"{S}ClusterUrl '{o.ClusterUrl}' must be the Kbl gateway's URL (http://kbl:8080)",
            _ => null,
        };
    }

    private static string? Url(string value, string key) =>
        value.Length == 0 || (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            ? null
            : $"{S}{key} '{value}' must be an http(s) URL";
}
