using Amazon.CDK;

namespace Kbl.Cdk;

/// <summary>
/// What a deployment chooses (CDK context, <c>-c key=value</c>): the cluster's name, Kubernetes version, an existing VPC to
/// use instead of a new one, and the system node group's size. Everything else (ARNs, the account, the region) comes from
/// the stack itself.
/// </summary>
public sealed record KblStackSettings
{
    /// <summary>The EKS cluster's name (<c>-c clusterName=…</c>); a literal, because IAM condition keys name it.</summary>
    public string ClusterName { get; init; } = "kbl";

    /// <summary>The Kubernetes version (<c>-c kubernetesVersion=…</c>).</summary>
    public string KubernetesVersion { get; init; } = "1.31";

    /// <summary>An existing VPC (<c>-c vpcId=vpc-…</c>, looked up at synthesis: needs the account and region); empty: a new VPC.</summary>
    public string VpcId { get; init; } = "";

    /// <summary>The instance type of the system node group (the Provisioner and cluster add-ons run there, never silos).</summary>
    public string SystemInstanceType { get; init; } = "t3.large";

    /// <summary>The namespace of Kbl's pods: the IRSA roles trust its service accounts only.</summary>
    public string Namespace { get; init; } = "kbl";

    public static KblStackSettings From(App app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var defaults = new KblStackSettings();
        string Read(string key, string fallback) => app.Node.TryGetContext(key) is string value && value.Length > 0 ? value : fallback;
        return new KblStackSettings
        {
            ClusterName = Read("clusterName", defaults.ClusterName),
            KubernetesVersion = Read("kubernetesVersion", defaults.KubernetesVersion),
            VpcId = Read("vpcId", defaults.VpcId),
            SystemInstanceType = Read("systemInstanceType", defaults.SystemInstanceType),
            Namespace = Read("namespace", defaults.Namespace),
        };
    }
}
