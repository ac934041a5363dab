namespace Kbl.Placement;

/// <summary>Places a KBL on the silo that holds its records (its home); see <see cref="KblPlacementDirector"/>.</summary>
[GenerateSerializer, Alias("kbl.KblPlacement")]
public sealed class KblPlacement : PlacementStrategy
{
    public static KblPlacement Instance { get; } = new();
}
