namespace Kbl.Placement;

/// <summary>Section <c>Kbl:Placement</c>: how KBLs are kept on the silos of their node group.</summary>
public sealed class KblPlacementOptions
{
    public const string Section = "Kbl:Placement";

    /// <summary>What a KBL does when no silo of its node group is up.</summary>
    public WhenGroupMissing WhenGroupMissing { get; set; } = WhenGroupMissing.Wait;

    /// <summary>With <see cref="WhenGroupMissing.Wait"/>: how long a request waits for a silo of the group before it fails (503).</summary>
    public TimeSpan WaitForGroup { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often each silo posts its load and reads everyone else's.</summary>
    public TimeSpan LoadRefresh { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often each silo checks whether it holds more than its share of its group's leaves. Zero: never.</summary>
    public TimeSpan RebalancePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most this many leaves leave a silo per rebalancing round, so serving is not disrupted.</summary>
    public int MaxMovesPerRound { get; set; } = 2;

    /// <summary>How long a silo that is asked to stop may spend handing its KBLs to the rest of its group.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);
}
