namespace Kbl.NodeGroups;

/// <summary>What the process reading <c>Kbl:Provisioning</c> does with it; decides which settings must be usable.</summary>
public enum ProvisioningRole
{
    /// <summary>A silo that plans and publishes desired states; someone else reconciles.</summary>
    Publisher,

    /// <summary>A silo that also runs the reconciler (<c>Kbl:Provisioning:InProcess</c>).</summary>
    SiloReconciler,

    /// <summary>The Provisioner process (src/Provisioner): reconciles, reading the plan from <c>ClusterUrl</c>.</summary>
    Provisioner,
}
