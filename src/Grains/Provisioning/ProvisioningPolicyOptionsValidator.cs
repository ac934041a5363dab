using Microsoft.Extensions.Options;

namespace Kbl.Provisioning;

public sealed class ProvisioningPolicyOptionsValidator : IValidateOptions<ProvisioningPolicyOptions>
{
    private const string S = "Kbl:Provisioning:";

    public ValidateOptionsResult Validate(string? name, ProvisioningPolicyOptions o)
    {
        var failure = o switch
        {
            _ when o.Period < TimeSpan.FromMilliseconds(100) || o.Period > TimeSpan.FromHours(1) =>
                $"{S}Period {o.Period} must be between 00:00:00.100 and 01:00:00",
            _ when o.ScaleDownCoolDown < TimeSpan.Zero || o.ScaleDownCoolDown > TimeSpan.FromDays(1) =>
                $"{S}ScaleDownCoolDown {o.ScaleDownCoolDown} must be between 00:00:00 and 1.00:00:00",
            _ when !(o.OpsPerNode > 0) => $"{S}OpsPerNode {o.OpsPerNode} must be above 0",
            _ when o.BytesPerNode < 1 => $"{S}BytesPerNode {o.BytesPerNode} must be at least 1",
            _ when o.KblsPerNode < 1 => $"{S}KblsPerNode {o.KblsPerNode} must be at least 1",
            _ when !(o.TargetUtilisation is > 0 and <= 1) => $"{S}TargetUtilisation {o.TargetUtilisation} must be above 0 and at most 1",
            _ when !(o.ScaleUpTolerance is >= 0 and < 1) => $"{S}ScaleUpTolerance {o.ScaleUpTolerance} must be at least 0 and below 1",
            _ when !(o.SaturationUtilisation > o.TargetUtilisation && o.SaturationUtilisation <= 2) =>
                $"{S}SaturationUtilisation {o.SaturationUtilisation} must be above TargetUtilisation ({o.TargetUtilisation}) and at most 2 (above 1: never)",
            _ when o.MinNodes < 0 => $"{S}MinNodes {o.MinNodes} must be at least 0",
            _ when o.MaxNodesPerGroup < Math.Max(1, o.MinNodes) => $"{S}MaxNodesPerGroup {o.MaxNodesPerGroup} must be at least 1 and at least MinNodes ({o.MinNodes})",
            _ when o.MaxNodesForLoad is < 1 => $"{S}MaxNodesForLoad {o.MaxNodesForLoad} must be at least 1",
            _ when o.GroupMinNodes.FirstOrDefault(g => g.Value < 0 || g.Value > o.MaxNodesPerGroup) is { Key: { } group } bad =>
                $"{S}GroupMinNodes:{group} {bad.Value} must be between 0 and MaxNodesPerGroup ({o.MaxNodesPerGroup})",
            _ when o.MaxNodeGroups < 1 => $"{S}MaxNodeGroups {o.MaxNodeGroups} must be at least 1",
            _ when !(o.HotSubtreeShare is >= 0 and <= 1) => $"{S}HotSubtreeShare {o.HotSubtreeShare} must be between 0 and 1",
            _ when !(o.HotSubtreeReleaseHeadroom is >= 0 and < 1) => $"{S}HotSubtreeReleaseHeadroom {o.HotSubtreeReleaseHeadroom} must be at least 0 and below 1",
            _ when string.IsNullOrWhiteSpace(o.InstanceType) => $"{S}InstanceType must name an instance type (m6i.large)",
            _ when o.Taints.FirstOrDefault(t => !NodeTaints.TryParse(t, out _)) is { } bad =>
                $"{S}Taints '{bad}' must be key=value:NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE",
            _ when o.Labels.Keys.FirstOrDefault(k => k.Length is 0 or > 63) is { } badLabel => $"{S}Labels key '{badLabel}' must be 1..63 characters",
            _ => null,
        };
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }
}
