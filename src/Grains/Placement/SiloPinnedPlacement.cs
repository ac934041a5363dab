namespace Kbl.Placement;

/// <summary>Places a grain keyed by a silo's stable name (or <c>{silo}|…</c>) on that silo (see <see cref="SiloPinnedPlacementDirector"/>).</summary>
[GenerateSerializer, Alias("kbl.SiloPinnedPlacement")]
public sealed class SiloPinnedPlacement : PlacementStrategy
{
    public static SiloPinnedPlacement Instance { get; } = new();
}
